//! The file connectors through the real server: ACS logs, monitor text
//! files and the calibrator catalog on the demo data, the ACS fixture from
//! an S3-compatible server (moto), and the catalog over HTTP with its cache.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestServer, data_dir};

/// The real ACS sample: 300 records (its README gives the level counts).
fn fixture() -> PathBuf {
    crate::common::repo_dir().join("tests/fixtures/acs-logs/jlog-test.xml")
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir().join("demo/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn acs_logs_answer_level_counts_and_report_broken_records() {
    let server = TestServer::start();
    let client = server.connect().await;
    let rows = client
        .query(
            "select level, count(*) as n from logs.acs group by 1 order by 1",
            &[],
        )
        .await
        .unwrap();
    let counts: BTreeMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let manifest = manifest();
    let total: i64 = counts.values().sum();
    assert_eq!(
        total,
        manifest["log_records"].as_i64().unwrap(),
        "{counts:?}"
    );
    for level in [
        "Trace", "Debug", "Info", "Notice", "Warning", "Error", "Critical",
    ] {
        assert!(
            counts.get(level).is_some_and(|n| *n > 0),
            "no {level} records: {counts:?}"
        );
    }
    // Every record broken on purpose is reported, with its file.
    let broken = manifest["malformed_log_records"].as_array().unwrap();
    let rows = client
        .query(
            "select source_file, reason from logs.acs_errors order by 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), broken.len(), "{rows:?}");
    for b in broken {
        let file = b["file"].as_str().unwrap();
        assert!(
            rows.iter().any(|r| r.get::<_, String>(0).ends_with(file)),
            "{file} is not reported"
        );
    }
    // The lock-loss records carry their antenna and Data children.
    let row = client
        .query_one(
            "select count(*), count(distinct antenna), min(data) from logs.acs \
             where level = 'Error' and routine = 'LORRImpl::monitorLock'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, i64>(0) > 0);
    assert!(row.get::<_, i64>(1) > 1);
    let data: serde_json::Value = serde_json::from_str(&row.get::<_, String>(2)).unwrap();
    assert!(
        data["AmbientTemperature"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .is_ok(),
        "{data}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn acs_time_filters_prune_files_and_limits_stop_early() {
    let server = TestServer::start();
    let client = server.connect().await;
    let range = "time >= timestamptz '2026-01-02 03:00:00+00' and time < timestamptz '2026-01-02 05:00:00+00'";
    let n: i64 = client
        .query_one(&format!("select count(*) from logs.acs where {range}"), &[])
        .await
        .unwrap()
        .get(0);
    assert!(n > 0);
    // The same count without the pushed-down range, filtered by DataFusion.
    let m: i64 = client
        .query_one(
            &format!("select count(*) from (select time + interval '0 second' as time from logs.acs) where {range}"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, m);
    let plan = explain_analyze(
        &client,
        &format!("select count(*) from logs.acs where {range} and host = 'gas01'"),
    )
    .await;
    // Two hours of the three hosts' hourly files are read; the host filter
    // is applied to the records inside them.
    let files_scanned = metric(&plan, "files_scanned");
    let files_pruned = metric(&plan, "files_pruned");
    assert_eq!(files_scanned, 6, "{plan}");
    assert_eq!(files_pruned, 3 * 24 * 4 - 6, "{plan}");
    assert!(
        metric(&plan, "records_filtered") > 0,
        "host filter applied in the scan: {plan}"
    );

    let rows = client
        .query("select time, message from logs.acs limit 3", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let plan = explain_analyze(&client, "select * from logs.acs limit 3").await;
    assert!(
        metric(&plan, "files_scanned") <= 8,
        "LIMIT stops reading files: {plan}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn monitor_text_files_match_the_archive() {
    let server = TestServer::start();
    let client = server.connect().await;
    let filter = "antenna = 'DA44' and device = 'IFProc0' and baseband = 'BB_1' \
                  and time >= timestamptz '2026-01-02 00:00:00+00' and time < timestamptz '2026-01-03 00:00:00+00'";
    let text: i64 = client
        .query_one(&format!("select count(*) from monitor.text_samples where monitor_point = 'TOTAL_POWER' and {filter}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(text, 1440);
    let differing: i64 = client
        .query_one(
            &format!(
                "select count(*) from (\
                   select time, value from monitor.text_samples where {filter} \
                   except select time, value from monitor.samples where {filter})"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(differing, 0);
    let weather: i64 = client
        .query_one(
            "select count(*) from monitor.text_samples where antenna is null and monitor_point = 'PRESSURE'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(weather, 4 * 1440);
    let plan = explain_analyze(
        &client,
        &format!("select count(*) from monitor.text_samples where {filter}"),
    )
    .await;
    assert_eq!(metric(&plan, "files_scanned"), 1, "{plan}");
}

#[tokio::test(flavor = "multi_thread")]
async fn calibrator_sources_have_positions() {
    let server = TestServer::start();
    let client = server.connect().await;
    let rows = client
        .query(
            "select source, ra_deg, dec_deg, position_from from calibrators.sources limit 5",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    for r in &rows {
        let name: String = r.get(0);
        let ra: f64 = r.get(1);
        let dec: f64 = r.get(2);
        // The demo catalog's positions agree with the J-names to a fraction of a degree.
        let hh: f64 = name[1..3].parse().unwrap();
        assert!((ra / 15.0 - hh).abs() < 1.0, "{name} {ra}");
        assert!((-90.0..=90.0).contains(&dec));
    }
    let n: i64 = client
        .query_one(
            "select count(*) from calibrators.measurements where band in (3, 7)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(n > 0);
}

async fn explain_analyze(client: &tokio_postgres::Client, sql: &str) -> String {
    let rows = client
        .simple_query(&format!("explain analyze {sql}"))
        .await
        .unwrap();
    rows.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .filter_map(|i| r.get(i))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sums a metric over the scan lines of an `EXPLAIN ANALYZE` plan.
fn metric(plan: &str, name: &str) -> u64 {
    let key = format!("{name}=");
    let mut total = 0;
    for line in plan.lines().filter(|l| l.contains("ScanExec")) {
        let Some(start) = line.find("metrics=[") else {
            continue;
        };
        let line = &line[start..];
        for (i, _) in line.match_indices(&key) {
            let digits: String = line[i + key.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            total += digits.parse::<u64>().unwrap_or(0);
        }
    }
    total
}

/// A Python helper process (moto, http.server), killed when dropped.
struct PythonServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl PythonServer {
    fn start(args: &[&str], dir: &Path, log: PathBuf) -> Self {
        let port = free_port();
        let log_file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new("python3");
        command.args(args).current_dir(dir);
        let child = command
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("python3 runs (test.sh installs what the tests need)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{args:?} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_with_config(dir: &Path, config: &str) -> TestServer {
    let path = dir.join("almasql.toml");
    std::fs::write(&path, config).unwrap();
    TestServer::start_with_env(
        &["--config", path.to_str().unwrap()],
        &[
            ("ALMASQL_IT_S3_SECRET", "testing"),
            ("ALMASQL_IT_JIRA_TOKEN", "it-token"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn acs_logs_from_s3() {
    let dir = tempfile::tempdir().unwrap();
    let moto = PythonServer::start(
        &["-m", "moto.server", "-p"],
        dir.path(),
        dir.path().join("moto.log"),
    );
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    // Upload the fixture plain and gzipped with boto3 (installed with moto).
    let xml = std::fs::read(fixture()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::default());
    gz.write_all(&xml).unwrap();
    std::fs::write(dir.path().join("log.xml.gz"), gz.finish().unwrap()).unwrap();
    let upload = format!(
        "import boto3\n\
         s3 = boto3.client('s3', endpoint_url='{endpoint}', aws_access_key_id='testing', \
         aws_secret_access_key='testing', region_name='us-east-1')\n\
         s3.create_bucket(Bucket='alma-logs')\n\
         s3.upload_file('{fixture}', 'alma-logs', 'acs/te1/plain.xml')\n\
         s3.upload_file('log.xml.gz', 'alma-logs', 'acs/te1/compressed.xml.gz')\n",
        fixture = fixture().display()
    );
    let status = Command::new("python3")
        .args(["-c", &upload])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "upload to moto failed");
    let server = start_with_config(
        dir.path(),
        &format!(
            r#"
            data_dir = "{data}"
            [[object_stores]]
            url = "s3://alma-logs"
            endpoint = "{endpoint}"
            access_key_id = "testing"
            secret_access_key_env = "ALMASQL_IT_S3_SECRET"
            allow_http = true
            [[sources]]
            name = "logs.acs"
            kind = "acs_logs"
            location = "s3://alma-logs/acs/"
            [[sources]]
            name = "logs.missing"
            kind = "acs_logs"
            location = "s3://no-such-bucket/acs/"
            "#,
            data = dir.path().join("data").display()
        ),
    );
    let client = server.connect().await;
    let rows = client
        .query(
            "select level, count(*) from logs.acs group by 1 order by 1",
            &[],
        )
        .await
        .unwrap();
    let counts: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    // Twice the fixture (plain and gzipped): Trace 168, Debug 77, Info 54, Warning 1.
    assert_eq!(
        counts,
        vec![
            ("Debug".to_string(), 154),
            ("Info".to_string(), 108),
            ("Trace".to_string(), 336),
            ("Warning".to_string(), 2)
        ]
    );
    let err = client
        .query("select count(*) from logs.missing", &[])
        .await
        .unwrap_err();
    let text = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(
        text.contains("logs.missing") && text.contains("no-such-bucket"),
        "{text}"
    );
    // The connection stays usable after the error.
    assert_eq!(client.query("select 1", &[]).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn calibrator_catalog_over_http_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(
        www.join("catalog.xml"),
        r#"<?xml version="1.0"?>
<VOTABLE version="1.4"><RESOURCE><TABLE>
 <FIELD name="Source" datatype="char" arraysize="*"/>
 <FIELD name="Frequency" datatype="double" unit="GHz"/>
 <FIELD name="Flux" datatype="double" unit="Jy"/>
 <FIELD name="Date" datatype="char" arraysize="*"/>
 <DATA><TABLEDATA>
  <TR><TD>J1924-2914</TD><TD>103.5</TD><TD>3.4</TD><TD>2026-01-01</TD></TR>
  <TR><TD>J1924-2914</TD><TD>343.5</TD><TD>2.1</TD><TD>2026-01-03</TD></TR>
  <TR><TD>J0006-0623</TD><TD>91.5</TD><TD>2.0</TD><TD>2025-12-01</TD></TR>
 </TABLEDATA></DATA>
</TABLE></RESOURCE></VOTABLE>"#,
    )
    .unwrap();
    let http = PythonServer::start(
        &["-m", "http.server", "--bind", "127.0.0.1"],
        &www,
        dir.path().join("http.log"),
    );
    let url = format!("http://127.0.0.1:{}/catalog.xml", http.port);
    let server = start_with_config(
        dir.path(),
        &format!(
            r#"
            data_dir = "{data}"
            [[sources]]
            kind = "calibrator_catalog"
            schema = "cached"
            location = "{url}"
            ttl_seconds = 3600
            [[sources]]
            kind = "calibrator_catalog"
            schema = "revalidated"
            location = "{url}"
            ttl_seconds = 0
            "#,
            data = dir.path().join("data").display()
        ),
    );
    let client = server.connect().await;
    let sql = "select source, band, measurements from \
               (select s.source, m.band, s.measurements from cached.sources s join cached.measurements m using (source)) \
               order by 1, 2";
    let first = client.query(sql, &[]).await.unwrap();
    let bands: Vec<(String, i16)> = first.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        bands,
        vec![
            ("J0006-0623".to_string(), 3),
            ("J1924-2914".to_string(), 3),
            ("J1924-2914".to_string(), 7)
        ]
    );
    let gets = |log: &str| {
        log.lines()
            .filter(|l| l.contains("\"GET /catalog.xml"))
            .count()
    };
    let after_first = gets(&http.log());
    assert_eq!(after_first, 1, "{}", http.log());
    client.query(sql, &[]).await.unwrap();
    assert_eq!(
        gets(&http.log()),
        1,
        "the second query is served from the cache"
    );

    // TTL 0: every query revalidates; the unchanged file answers 304.
    client
        .query("select * from revalidated.sources", &[])
        .await
        .unwrap();
    client
        .query("select * from revalidated.sources", &[])
        .await
        .unwrap();
    let log = http.log();
    assert!(
        log.lines()
            .any(|l| l.contains("\"GET /catalog.xml") && l.contains(" 304 ")),
        "{log}"
    );
    // RA/Dec come from the J-names: J1924-2914 is at 291.0 deg, -29.2333 deg.
    let row = client
        .query_one(
            "select ra_deg, dec_deg, position_from from cached.sources where source = 'J1924-2914'",
            &[],
        )
        .await
        .unwrap();
    assert!((row.get::<_, f64>(0) - 291.0).abs() < 1e-9);
    assert!((row.get::<_, f64>(1) + 29.233_333).abs() < 1e-5);
    assert_eq!(row.get::<_, String>(2), "jname");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_locations_name_the_source_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // Not gzip at all, though its name says so.
    std::fs::write(logs.join("2026-01-01T00.xml.gz"), "<Log></Log>").unwrap();
    let server = start_with_config(
        dir.path(),
        &format!(
            r#"
            data_dir = "{data}"
            [[sources]]
            name = "logs.nowhere"
            kind = "acs_logs"
            location = "{missing}/"
            [[sources]]
            name = "logs.broken"
            kind = "acs_logs"
            location = "{logs}/"
            "#,
            data = dir.path().join("data").display(),
            missing = dir.path().join("no-such-dir").display(),
            logs = logs.display(),
        ),
    );
    let client = server.connect().await;
    let err = client
        .query("select * from logs.nowhere", &[])
        .await
        .unwrap_err();
    let text = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(
        text.contains("logs.nowhere") && text.contains("no-such-dir"),
        "{text}"
    );
    let err = client
        .query("select * from logs.broken", &[])
        .await
        .unwrap_err();
    let text = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(
        text.contains("logs.broken") && text.contains("2026-01-01T00.xml.gz"),
        "{text}"
    );
}

/// Replays a recorded JIRA Server search page on `/rest/api/2/search`,
/// logging every JQL it receives; 401 without the expected bearer token.
const JIRA_REPLAY: &str = r#"
import http.server, sys, urllib.parse
page = open(sys.argv[1], 'rb').read()
class Replay(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        sys.stderr.write('REQUEST %s JQL %s FIELDS %s\n' % (url.path, query.get('jql', [''])[0], query.get('fields', [''])[0]))
        sys.stderr.flush()
        if self.headers.get('Authorization') != 'Bearer it-token':
            self.send_response(401); self.end_headers(); return
        if url.path != '/rest/api/2/search':
            self.send_response(404); self.end_headers(); return
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(page)))
        self.end_headers()
        self.wfile.write(page)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[2])), Replay).serve_forever()
"#;

#[tokio::test(flavor = "multi_thread")]
async fn jira_rest_source_pushes_escaped_jql() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("replay.py"), JIRA_REPLAY).unwrap();
    let page =
        crate::common::repo_dir().join("tests/fixtures/jira/server-search-sampleproject.json");
    let page = page.to_str().unwrap().to_string();
    let jira = PythonServer::start(
        &["replay.py", &page],
        dir.path(),
        dir.path().join("jira.log"),
    );
    let server = start_with_config(
        dir.path(),
        &format!(
            r#"
            data_dir = "{data}"
            [[sources]]
            kind = "jira"
            schema = "tracker"
            url = "http://127.0.0.1:{port}"
            flavor = "server"
            token_env = "ALMASQL_IT_JIRA_TOKEN"
            [[sources]]
            kind = "jira"
            schema = "badtoken"
            url = "http://127.0.0.1:{port}"
            flavor = "server"
            token = "wrong-token-123"
            "#,
            data = dir.path().join("data").display(),
            port = jira.port,
        ),
    );
    let client = server.connect().await;
    let rows = client
        .query(
            "select key, status, created from tracker.issues \
             where status = 'Open' and created > timestamptz '2011-01-01 00:00:00+00' order by key",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 11);
    assert!(rows.iter().all(|r| r.get::<_, &str>(1) == "Open"));
    let log = jira.log();
    assert!(log.contains("status in (\"Open\")"), "{log}");
    assert!(log.contains("created >="), "{log}");
    // Only the projected fields are asked for.
    let fields = log.lines().last().unwrap();
    assert!(
        fields.contains("FIELDS") && !fields.contains("description"),
        "{fields}"
    );

    // A hostile literal stays one quoted JQL string, and matches nothing.
    let rows = client
        .query(
            "select key from tracker.issues where status = 'Open\" OR project = \"X'",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.is_empty());
    let log = jira.log();
    assert!(
        log.contains(r#"status in ("Open\" OR project = \"X")"#),
        "{log}"
    );

    // A wrong token is an error naming the source, without the token.
    let err = client
        .query("select key from badtoken.issues", &[])
        .await
        .unwrap_err();
    let text = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(text.contains("badtoken") && text.contains("401"), "{text}");
    assert!(!text.contains("wrong-token-123"), "{text}");
    assert!(!server.stderr_text().contains("wrong-token-123"));
}
