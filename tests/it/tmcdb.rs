//! The `tmcdb` source against a real PostgreSQL 15 holding TMCDB tables
//! (our DDL), filled with blocks encoded from the demo dataset's samples:
//! decoding gives back the same rows, filters reach the remote SQL, and
//! malformed CLOBs are counted and reported.

use std::collections::BTreeMap;

use almasql::connectors::tmcdb::SCHEMA_SQL;
use almasql::connectors::tmcdb::clob::{Sample, SampleValue, encode, unix_ns_to_acs};
use chrono::{DateTime, Utc};

use crate::common::{TestServer, data_dir};
use crate::postgres::{PG_PASSWORD, PG_USER, Postgres};

const ANTENNAS: [&str; 2] = ["DA44", "DV07"];

/// Monitor points of the test TMCDB: (id, component id, device, point,
/// data type, unit).
const POINTS: [(i32, i32, &str, &str, &str, &str); 5] = [
    (1, 1, "IFProc0", "TOTAL_POWER", "double", "V"),
    (2, 2, "IFProc1", "TOTAL_POWER", "double", "V"),
    (3, 3, "IFProc0", "TOTAL_POWER", "double", "V"),
    (4, 4, "IFProc1", "TOTAL_POWER", "double", "V"),
    (5, 5, "MeteoCentral", "PRESSURE", "double", "hPa"),
];

const CONFIGURATION: &str = "
INSERT INTO Configuration (ConfigurationId, ConfigurationName) VALUES (1, 'almasql-it');
INSERT INTO HWConfiguration (ConfigurationId, SwConfigurationId, TelescopeName) VALUES (1, 1, 'ALMA');
INSERT INTO ComponentType (ComponentTypeId, IDL) VALUES
  (1, 'IDL:alma/Control/IFProc:1.0'), (2, 'IDL:alma/Control/WeatherStation:1.0');
INSERT INTO Component (ComponentId, ComponentTypeId, ComponentName, ConfigurationId, Path) VALUES
  (1, 1, 'IFProc0', 1, 'CONTROL/DA44'), (2, 1, 'IFProc1', 1, 'CONTROL/DA44'),
  (3, 1, 'IFProc0', 1, 'CONTROL/DV07'), (4, 1, 'IFProc1', 1, 'CONTROL/DV07'),
  (5, 2, 'MeteoCentral', 1, 'CONTROL/WeatherStation');
INSERT INTO BACIProperty (BACIPropertyId, ComponentId, PropertyName, units) VALUES
  (1, 1, 'TOTAL_POWER', 'V'), (2, 2, 'TOTAL_POWER', 'V'), (3, 3, 'TOTAL_POWER', 'V'),
  (4, 4, 'TOTAL_POWER', 'V'), (5, 5, 'PRESSURE', 'hPa');
INSERT INTO LRUType (LRUName, FullName) VALUES
  ('IFProc', 'IF processor'), ('WeatherStation', 'Weather station');
INSERT INTO AssemblyType (AssemblyTypeName, LRUName, ComponentTypeId) VALUES
  ('IFProc', 'IFProc', 1), ('WeatherStation', 'WeatherStation', 2);
INSERT INTO Assembly (AssemblyId, AssemblyTypeName, ConfigurationId, SerialNumber) VALUES
  (1, 'IFProc', 1, 'IFP-4400'), (2, 'IFProc', 1, 'IFP-4401'), (3, 'IFProc', 1, 'IFP-0700'),
  (4, 'IFProc', 1, 'IFP-0701'), (5, 'WeatherStation', 1, 'WS-1');
INSERT INTO BaseElement (BaseElementId, BaseType, BaseElementName, ConfigurationId) VALUES
  (1, 'Antenna', 'DA44', 1), (2, 'Antenna', 'DV07', 1);
INSERT INTO Antenna (BaseElementId, AntennaName, AntennaType, DishDiameter) VALUES
  (1, 'DA44', 'AEC', 12.0), (2, 'DV07', 'VA', 12.0);
";

/// A sample row as both tables give it: time (ns), antenna, device,
/// point, polarization, baseband, value bits.
type Row = (
    i64,
    Option<String>,
    String,
    String,
    Option<i16>,
    Option<String>,
    u64,
);

fn rows(result: &[tokio_postgres::Row]) -> Vec<Row> {
    let mut out: Vec<Row> = result
        .iter()
        .map(|r| {
            let t: DateTime<Utc> = r.get(0);
            let v: f64 = r.get(6);
            (
                t.timestamp_nanos_opt().unwrap(),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                v.to_bits(),
            )
        })
        .collect();
    out.sort();
    out
}

const SAMPLE_COLUMNS: &str = "time, antenna, device, monitor_point, polarization, baseband, value";

#[tokio::test(flavor = "multi_thread")]
async fn tmcdb_blocks_decode_to_the_archive_samples() {
    // the samples of one day, from the archive
    let archive = TestServer::start();
    let client = archive.connect().await;
    let day: chrono::NaiveDate = client
        .query_one("select min(date)::date from monitor.samples", &[])
        .await
        .unwrap()
        .get(0);
    let selection = format!(
        "from monitor.samples where date = '{day}' and \
         ((antenna in ('DA44', 'DV07') and monitor_point = 'TOTAL_POWER') or monitor_point = 'PRESSURE')"
    );
    let expected = rows(
        &client
            .query(&format!("select {SAMPLE_COLUMNS} {selection}"), &[])
            .await
            .unwrap(),
    );
    assert!(expected.len() > 20_000, "{}", expected.len());

    // one block per point and hour; IF total power as 4-element sequences
    // (point, hour) -> time -> (baseband, value)
    type Blocks = BTreeMap<(i32, i64), BTreeMap<i64, Vec<(String, f64)>>>;
    let mut blocks: Blocks = BTreeMap::new();
    for (t, antenna, device, point, _pol, baseband, bits) in &expected {
        let id = POINTS
            .iter()
            .position(|p| {
                p.2 == device
                    && p.3 == point
                    && (p.3 == "PRESSURE"
                        || antenna.as_deref() == Some(ANTENNAS[(p.1 as usize - 1) / 2]))
            })
            .map(|i| POINTS[i].0)
            .unwrap_or_else(|| panic!("no point for {antenna:?} {device} {point}"));
        let hour = t.div_euclid(3_600_000_000_000);
        blocks
            .entry((id, hour))
            .or_default()
            .entry(*t)
            .or_default()
            .push((baseband.clone().unwrap_or_default(), f64::from_bits(*bits)));
    }
    let pg = Postgres::start();
    let db = pg.client().await;
    db.batch_execute(SCHEMA_SQL).await.unwrap();
    db.batch_execute(CONFIGURATION).await.unwrap();
    for (id, (_, _, _, point, dtype, unit)) in POINTS.iter().map(|p| (p.0, *p)) {
        db.execute(
            "INSERT INTO MonitorPoint (MonitorPointId, BACIPropertyId, MonitorPointName, AssemblyId, \
             Indice, DataType, Units, Description) VALUES ($1, $1, $2, $1, 0, $3, $4, 'it')",
            &[&id, &point, &(if id < 5 { "double[]" } else { dtype }), &unit],
        )
        .await
        .unwrap();
    }
    let insert = "INSERT INTO MonitorData (MonitorPointId, StartTime, EndTime, MonitorTS, \
                  SampleSize, MonitorClob) VALUES ($1, $2, $3, to_timestamp($4), $5, $6)";
    for ((id, _), samples) in &blocks {
        let start = *samples.keys().next().unwrap();
        let end = *samples.keys().last().unwrap();
        let encoded: Vec<Sample> = samples
            .iter()
            .map(|(t, values)| {
                let mut values = values.clone();
                values.sort_by(|a, b| a.0.cmp(&b.0));
                Sample {
                    time_ns: *t,
                    values: values.iter().map(|v| SampleValue::Double(v.1)).collect(),
                }
            })
            .collect();
        let clob = encode(&encoded).expect("no NaN in the demo");
        db.execute(
            insert,
            &[
                id,
                &unix_ns_to_acs(start),
                &unix_ns_to_acs(end),
                &(start as f64 / 1e9),
                &(samples.len() as i32),
                &clob,
            ],
        )
        .await
        .unwrap();
    }
    // a malformed block (a value that is not a number, a missing value)
    // and a recent one, for "the last day"
    let now = Utc::now().timestamp_nanos_opt().unwrap();
    let malformed = format!(
        "{}|12.5|{}|not-a-number|{}|",
        unix_ns_to_acs(now - 7_200_000_000_000),
        unix_ns_to_acs(now - 7_100_000_000_000),
        unix_ns_to_acs(now - 7_000_000_000_000)
    );
    db.execute(
        insert,
        &[
            &5i32,
            &unix_ns_to_acs(now - 7_200_000_000_000),
            &unix_ns_to_acs(now - 7_000_000_000_000),
            &((now - 7_200_000_000_000) as f64 / 1e9),
            &3i32,
            &malformed,
        ],
    )
    .await
    .unwrap();
    drop(client);
    drop(archive);

    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
        data_dir = "{data}"
        [demo]
        [[sources]]
        kind = "tmcdb"
        schema = "monitor"
        host = "127.0.0.1"
        port = {port}
        user = "{PG_USER}"
        password_env = "ALMASQL_IT_PG_PASSWORD"
        database = "postgres"
        sslmode = "disable"
        [[sources]]
        kind = "postgres"
        schema = "tmcraw"
        host = "127.0.0.1"
        port = {port}
        user = "{PG_USER}"
        password_env = "ALMASQL_IT_PG_PASSWORD"
        database = "postgres"
        tables = ["monitordata"]
        sslmode = "disable"
        "#,
        data = data_dir().display(),
        port = pg.port,
    );
    let path = dir.path().join("almasql.toml");
    std::fs::write(&path, config).unwrap();
    let server = TestServer::start_with_env(
        &["--config", path.to_str().unwrap()],
        &[("ALMASQL_IT_PG_PASSWORD", PG_PASSWORD)],
    );
    let client = server.connect().await;

    // every archive sample, exactly, from the blocks
    let day_end = day.succ_opt().unwrap();
    let decoded = rows(
        &client
            .query(
                &format!(
                    "select {SAMPLE_COLUMNS} from monitor.tmc_samples \
                     where time >= '{day}T00:00:00Z' and time < '{day_end}T00:00:00Z'"
                ),
                &[],
            )
            .await
            .unwrap(),
    );
    assert_eq!(decoded.len(), expected.len());
    assert_eq!(decoded, expected);

    // filters reach the remote SQL, with parameters
    let one = client
        .query_one(
            &format!(
                "select count(*) from monitor.tmc_samples where antenna = 'DV07' \
                 and monitor_point = 'TOTAL_POWER' and time >= '{day}T06:00:00Z' \
                 and time < '{day}T07:00:00Z'"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(one.get::<_, i64>(0), 2 * 4 * 60);
    let log = pg.log();
    assert!(log.contains("ant.AntennaName IN ($1)"), "{log}");
    assert!(
        log.contains("md.EndTime >= $") && log.contains("md.StartTime < $"),
        "{log}"
    );

    // the points, the block statistics, and the union with the archive
    let points = client
        .query(
            "select antenna, device_count from (select antenna, count(*) as device_count \
             from monitor.tmc_points where assembly_type = 'IFProc' group by antenna) order by antenna",
            &[],
        )
        .await
        .unwrap();
    let points: Vec<(Option<String>, i64)> = points.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        points,
        vec![(Some("DA44".into()), 2), (Some("DV07".into()), 2)]
    );
    let blocks_count: i64 = client
        .query_one("select count(*) from monitor.tmc_blocks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(blocks_count, blocks.len() as i64 + 1);
    let origins = client
        .query(
            &format!(
                "select origin, count(*) from monitor.all_samples where antenna = 'DA44' \
                 and monitor_point = 'TOTAL_POWER' and time >= '{day}T00:00:00Z' \
                 and time < '{day_end}T00:00:00Z' group by origin order by origin"
            ),
            &[],
        )
        .await
        .unwrap();
    let origins: Vec<(String, i64)> = origins.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        origins,
        vec![
            ("archive".into(), 2 * 4 * 1440),
            ("tmcdb".into(), 2 * 4 * 1440)
        ]
    );

    // the issue's query: the last day comes from the recent block only;
    // its malformed slots are skipped and reported
    let recent = client
        .query(
            "select antenna, monitor_point, count(*), avg(value) from monitor.tmc_samples \
             where time >= now() - interval '1 day' group by 1, 2",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].get::<_, Option<String>>(0), None);
    assert_eq!(recent[0].get::<_, String>(1), "PRESSURE");
    assert_eq!(recent[0].get::<_, i64>(2), 1);
    assert_eq!(recent[0].get::<_, f64>(3), 12.5);
    let log = server.stderr_text();
    assert!(
        log.contains("malformed") && log.contains("value is not a number"),
        "no malformed report in the log: {log}"
    );
    // and queryable, every slot with its block, offset and reason
    let errors: Vec<(String, i64, String, bool)> = client
        .query(
            "select monitor_point, byte_offset, reason, start_time >= now() - interval '3 hours' \
             from monitor.tmc_errors where start_time >= now() - interval '1 day' \
             order by byte_offset",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        errors,
        vec![
            (
                "PRESSURE".to_string(),
                malformed.find("not-a-number").unwrap() as i64,
                "value is not a number".to_string(),
                true
            ),
            (
                "PRESSURE".to_string(),
                malformed.len() as i64,
                "missing value".to_string(),
                true
            ),
        ]
    );
    // the well-formed archive blocks have none
    let older: i64 = client
        .query_one(
            "select count(*) from monitor.tmc_errors where start_time < now() - interval '1 day'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(older, 0);

    // the same decoding over any column of CLOBs
    let through_udf: i64 = client
        .query_one(
            "select count(*) from (select unnest(monitor_clob_samples(monitorclob, 'double[]')) \
             from tmcraw.monitordata)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let all: i64 = client
        .query_one("select count(*) from monitor.tmc_samples", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(through_udf, all);

    // blocks are read a page at a time: a full scan pages through them all,
    // a LIMIT stops reading after the first page (PostgreSQL logs every
    // further page of a portal as `execute fetch from`)
    let pages = |log: &str| log.matches("execute fetch from").count();
    let before = pages(&pg.log());
    let first = client
        .query("select time, value from monitor.tmc_samples limit 5", &[])
        .await
        .unwrap();
    assert_eq!(first.len(), 5);
    assert_eq!(pages(&pg.log()), before, "a LIMIT read more than one page");
    assert!(
        blocks.len() > 64,
        "the test needs more than one page of blocks"
    );
    client
        .query_one("select count(*) from monitor.tmc_samples", &[])
        .await
        .unwrap();
    assert!(pages(&pg.log()) > before, "a full scan read one page only");
}
