//! A real PostgreSQL 15, started by the test in a temporary directory,
//! mounted as an almasql schema: the same rows as the demo files, filters
//! reaching the server, and a wrong password that does not stop the server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{TestServer, data_dir};

pub(crate) const PG_USER: &str = "almasql_it";
pub(crate) const PG_PASSWORD: &str = "it-secret-Vx93";

/// A PostgreSQL server of our own, stopped when dropped.
pub(crate) struct Postgres {
    dir: tempfile::TempDir,
    pub(crate) port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries (test.sh installs them)")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no {name} under /usr/lib/postgresql"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (the
/// server refuses to run as root).
fn as_pg_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    pub(crate) fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("almasql-pg")
            .tempdir()
            .unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PG_PASSWORD).unwrap();
        let data = dir.path().join("data");
        let out = as_pg_user(&pg_bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", PG_USER, "--auth=scram-sha-256", "--pwfile"])
            .arg(&pwfile)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c log_statement=all",
            dir.path().display()
        );
        let out = as_pg_user(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.path().join("server.log"))
            .args(["-w", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { dir, port }
    }

    /// Runs `sql` as the superuser; returns the unaligned, tuples-only output.
    pub(crate) fn psql(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                PG_USER,
                "-d",
                "postgres",
            ])
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", PG_PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A tokio-postgres client of the superuser.
    pub(crate) async fn client(&self) -> tokio_postgres::Client {
        let conn = format!(
            "host=127.0.0.1 port={} user={PG_USER} password={PG_PASSWORD} dbname=postgres",
            self.port
        );
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_pg_user(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_schema_is_mounted_with_push_down() {
    let pg = Postgres::start();
    let projects = data_dir().join("demo/ops/projects.csv");
    pg.psql(
        "create schema ops; create table ops.projects (code text primary key, executive text, \
         band integer, requested_hours double precision, ra_deg double precision, \
         dec_deg double precision, array_name text, grade text)",
    );
    pg.psql(&format!(
        "\\copy ops.projects from '{}' with (format csv, header true)",
        projects.display()
    ));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
        data_dir = "{data}"
        [demo]
        [[sources]]
        kind = "postgres"
        schema = "opsdb"
        host = "127.0.0.1"
        port = {port}
        user = "{PG_USER}"
        password_env = "ALMASQL_IT_PG_PASSWORD"
        database = "postgres"
        remote_schema = "ops"
        sslmode = "disable"
        [[sources]]
        kind = "postgres"
        schema = "wrongpw"
        host = "127.0.0.1"
        port = {port}
        user = "{PG_USER}"
        password = "not-the-password"
        database = "postgres"
        sslmode = "disable"
        "#,
        data = data_dir().display(),
        port = pg.port,
    );
    let path = dir.path().join("almasql.toml");
    std::fs::write(&path, config).unwrap();
    // SAFETY-free: the variable is read by the child process only.
    let server = TestServer::start_with_env(
        &["--config", path.to_str().unwrap()],
        &[("ALMASQL_IT_PG_PASSWORD", PG_PASSWORD)],
    );
    let client = server.connect().await;

    // The same rows through PostgreSQL and through the CSV file.
    let counts = client
        .query_one(
            "select (select count(*) from opsdb.projects) as remote, \
             (select count(*) from ops.projects) as local, \
             (select count(*) from (select code, executive, band, requested_hours, ra_deg, dec_deg, grade \
                                    from opsdb.projects \
                                    except select code, executive, band, requested_hours, ra_deg, dec_deg, grade \
                                    from ops.projects)) as differing",
            &[],
        )
        .await
        .unwrap();
    let (remote, local, differing): (i64, i64, i64) = (counts.get(0), counts.get(1), counts.get(2));
    assert!(remote > 0);
    assert_eq!(remote, local);
    assert_eq!(differing, 0);

    // The filter and the limit reach the server.
    let rows = client
        .query(
            "select code from opsdb.projects where band = 7 and executive = 'EU' limit 2",
            &[],
        )
        .await
        .unwrap();
    assert!(!rows.is_empty() && rows.len() <= 2);
    let log = pg.log();
    let pushed = log.lines().any(|l| {
        (l.contains("statement:") || l.contains("execute "))
            && l.contains("\"ops\".\"projects\"")
            && l.contains("WHERE")
            && l.contains("'EU'")
            && l.contains("LIMIT 2")
    });
    assert!(pushed, "no pushed-down query in the PostgreSQL log:\n{log}");

    // The source with the wrong password is not mounted; the rest serves.
    let err = client
        .query("select * from wrongpw.projects", &[])
        .await
        .unwrap_err();
    assert!(
        err.as_db_error()
            .is_some_and(|e| e.message().contains("wrongpw")),
        "{err}"
    );
    let n: i64 = client
        .query_one("select count(*) from ops.antennas", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 66);
    let server_log = server.stderr_text();
    assert!(
        server_log.contains("wrongpw") && server_log.contains("source not mounted"),
        "{server_log}"
    );
    assert!(
        !server_log.contains("not-the-password"),
        "the password leaked into the log"
    );
}
