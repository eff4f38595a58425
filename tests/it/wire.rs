//! The server core over the wire, with tokio-postgres: simple and extended
//! protocol, parameters, text and binary results, SQLSTATEs, concurrency,
//! session functions, streaming and shutdown.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::TryStreamExt;
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::error::SqlState;

use crate::common::TestServer;

/// Rows per antenna in `monitor.samples` at scale 1: 2 polarizations ×
/// 4 basebands × 1440 minutes × 4 days.
const ROWS_PER_ANTENNA: i64 = 2 * 4 * 1440 * 4;
/// Weather rows at scale 1: 4 points × 1440 minutes × 4 days.
const WEATHER_ROWS: i64 = 4 * 1440 * 4;

fn simple_rows(messages: Vec<SimpleQueryMessage>) -> Vec<Vec<Option<String>>> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn simple_protocol_answers_the_readme_query() {
    let server = TestServer::start();
    let client = server.connect().await;
    let rows = simple_rows(
        client
            .simple_query("select antenna, count(*) from monitor.samples group by 1 order by 1")
            .await
            .unwrap(),
    );
    // 66 antennas, then the site-wide weather points (no antenna) last.
    assert_eq!(rows.len(), 67);
    assert_eq!(rows[0][0].as_deref(), Some("CM01"));
    assert_eq!(rows[65][0].as_deref(), Some("PM04"));
    for row in &rows[..66] {
        assert_eq!(
            row[1].as_deref(),
            Some(ROWS_PER_ANTENNA.to_string().as_str()),
            "{row:?}"
        );
    }
    assert_eq!(rows[66][0], None);
    assert_eq!(
        rows[66][1].as_deref(),
        Some(WEATHER_ROWS.to_string().as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn correlated_select_list_subqueries_are_computed() {
    // datafusion-pg-catalog replaces correlated select-list subqueries with
    // NULL (for psql's catalog queries); a user's must be computed
    let server = TestServer::start();
    let client = server.connect().await;
    let sql = "select a.antenna, \
               (select count(*) from ops.antennas t where t.antenna_type = a.antenna_type) as n \
               from ops.antennas a order by 1";
    let expected: Vec<(String, i64)> = client
        .query(
            "select antenna, count(*) over (partition by antenna_type) from ops.antennas \
             order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(expected.len(), 66);
    let simple: Vec<(String, i64)> = simple_rows(client.simple_query(sql).await.unwrap())
        .into_iter()
        .map(|r| {
            let n = r[1].as_deref().expect("a count, not NULL").parse().unwrap();
            (r[0].clone().unwrap(), n)
        })
        .collect();
    assert_eq!(simple, expected);
    // extended protocol, with a parameter inside the subquery
    let with_parameter: Vec<(String, i64)> = client
        .query(
            "select a.antenna, (select count(*) from ops.antennas t \
             where t.antenna_type = a.antenna_type and t.antenna <> $1) as n \
             from ops.antennas a where a.antenna = $2",
            &[&"DA41", &"DA42"],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let da42 = expected.iter().find(|(a, _)| a == "DA42").unwrap().1;
    assert_eq!(with_parameter, vec![("DA42".to_string(), da42 - 1)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn extended_protocol_binds_parameters_of_several_types() {
    let server = TestServer::start();
    let client = server.connect().await;
    let row = client
        .query_one(
            "select count(*) from monitor.samples where antenna = $1 and polarization = $2 and value > $3",
            &[&"DV07", &1i16, &0.0f64],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), ROWS_PER_ANTENNA / 2);

    let stmt = client
        .prepare("select count(*) from ops.projects where band = $1")
        .await
        .unwrap();
    let mut total = 0;
    for band in 1..=10i32 {
        total += client
            .query_one(&stmt, &[&band])
            .await
            .unwrap()
            .get::<_, i64>(0);
    }
    let all: i64 = client
        .query_one("select count(*) from ops.projects", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, all);

    let since: DateTime<Utc> = "2026-01-03T00:00:00Z".parse().unwrap();
    let row = client
        .query_one(
            "select count(*) from monitor.samples where antenna = 'DA41' and time >= $1",
            &[&since],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), ROWS_PER_ANTENNA / 2);
}

const TYPES_SQL: &str = "select 7::smallint as i2, 42::int as i4, 9000000000::bigint as i8, \
     1.5::double precision as f8, 'dv07'::text as t, true as b, date '2026-01-02' as d, \
     timestamp '2026-01-02 03:04:05.123' as ts, \
     arrow_cast(timestamp '2026-01-02 03:04:05', 'Timestamp(Microsecond, Some(\"UTC\"))') as tstz, \
     make_array(1, 2, 3) as arr, make_array('a', 'b') as tarr";

#[tokio::test(flavor = "multi_thread")]
async fn every_catalog_type_in_binary_and_text() {
    let server = TestServer::start();
    let client = server.connect().await;

    // Extended protocol: tokio-postgres asks for binary results.
    let row = client.query_one(TYPES_SQL, &[]).await.unwrap();
    assert_eq!(row.get::<_, i16>("i2"), 7);
    assert_eq!(row.get::<_, i32>("i4"), 42);
    assert_eq!(row.get::<_, i64>("i8"), 9_000_000_000);
    assert_eq!(row.get::<_, f64>("f8"), 1.5);
    assert_eq!(row.get::<_, String>("t"), "dv07");
    assert!(row.get::<_, bool>("b"));
    assert_eq!(
        row.get::<_, NaiveDate>("d"),
        NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()
    );
    assert_eq!(
        row.get::<_, NaiveDateTime>("ts"),
        "2026-01-02T03:04:05.123".parse::<NaiveDateTime>().unwrap()
    );
    assert_eq!(
        row.get::<_, DateTime<Utc>>("tstz"),
        "2026-01-02T03:04:05Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(row.get::<_, Vec<i64>>("arr"), vec![1, 2, 3]);
    assert_eq!(row.get::<_, Vec<String>>("tarr"), vec!["a", "b"]);

    // Simple protocol: text results.
    let rows = simple_rows(client.simple_query(TYPES_SQL).await.unwrap());
    let text: Vec<&str> = rows[0].iter().map(|v| v.as_deref().unwrap()).collect();
    assert_eq!(
        &text[..7],
        ["7", "42", "9000000000", "1.5", "dv07", "t", "2026-01-02"]
    );
    // Timestamps in the text format (fractional digits may be padded).
    assert_eq!(
        NaiveDateTime::parse_from_str(text[7], "%Y-%m-%d %H:%M:%S%.f").unwrap(),
        "2026-01-02T03:04:05.123".parse::<NaiveDateTime>().unwrap()
    );
    assert_eq!(
        DateTime::parse_from_str(&format!("{}00", text[8]), "%Y-%m-%d %H:%M:%S%.f%z").unwrap(),
        "2026-01-02T03:04:05Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(text[9], "{1,2,3}");
    assert_eq!(text[10], "{a,b}");

    // A demo table's columns come back typed.
    let row = client
        .query_one(
            "select time, antenna, polarization, value, date from monitor.samples where antenna = 'DV07' order by time limit 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, DateTime<Utc>>(0),
        "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(row.get::<_, &str>(1), "DV07");
    assert_eq!(row.get::<_, i16>(2), 0);
    assert!(row.get::<_, f64>(3) > 0.5);
    assert_eq!(
        row.get::<_, NaiveDate>(4),
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    );
}

async fn expect_code(client: &tokio_postgres::Client, sql: &str, code: &SqlState, simple: bool) {
    let err = if simple {
        client.simple_query(sql).await.map(|_| ()).unwrap_err()
    } else {
        client.query(sql, &[]).await.map(|_| ()).unwrap_err()
    };
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("{sql}: not a server error: {err}"));
    assert_eq!(db.code(), code, "{sql}: {}", db.message());
    // The connection stays usable after the error.
    let ok = client.query_one("select 1::int", &[]).await.unwrap();
    assert_eq!(ok.get::<_, i32>(0), 1);
    let ok = simple_rows(client.simple_query("select 2").await.unwrap());
    assert_eq!(ok[0][0].as_deref(), Some("2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_carry_sqlstate_and_leave_the_connection_usable() {
    let server = TestServer::start();
    let client = server.connect().await;
    for simple in [true, false] {
        expect_code(&client, "selec 1", &SqlState::SYNTAX_ERROR, simple).await;
        expect_code(
            &client,
            "select * from monitor.nope",
            &SqlState::UNDEFINED_TABLE,
            simple,
        )
        .await;
        expect_code(
            &client,
            "select nope from ops.antennas",
            &SqlState::UNDEFINED_COLUMN,
            simple,
        )
        .await;
        expect_code(
            &client,
            "select no_such_fn(1)",
            &SqlState::UNDEFINED_FUNCTION,
            simple,
        )
        .await;
        expect_code(&client, "select 1 / 0", &SqlState::DIVISION_BY_ZERO, simple).await;
    }
    // A failing statement inside a simple-protocol script stops the script there.
    let err = client
        .batch_execute("select 1; select * from nope; select 3")
        .await
        .unwrap_err();
    assert_eq!(
        err.as_db_error().unwrap().code(),
        &SqlState::UNDEFINED_TABLE
    );
    assert_eq!(
        client
            .query_one("select 4::int", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        4
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unaliased_columns_have_postgres_names() {
    let server = TestServer::start();
    let client = server.connect().await;
    // PostgreSQL 15: `?column?` for a literal, the function's name for a call
    let sql = "select 1, count(*) from ops.antennas";
    let prepared = client.prepare(sql).await.unwrap();
    let names: Vec<&str> = prepared.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["?column?", "count"]);
    let rows = client.simple_query(sql).await.unwrap();
    let row = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .expect("a row");
    let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["?column?", "count"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn session_functions_and_set_show() {
    let server = TestServer::start();
    let client = server.connect().await;
    let row = client
        .query_one(
            "select version(), current_schema(), current_database()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, String>(0).starts_with("PostgreSQL 16"));
    assert_eq!(row.get::<_, String>(1), "public");
    assert_eq!(row.get::<_, String>(2), "almasql");

    client
        .batch_execute("SET application_name = 'almasql-it'")
        .await
        .unwrap();
    let rows = simple_rows(client.simple_query("SHOW application_name").await.unwrap());
    assert_eq!(rows[0][0].as_deref(), Some("almasql-it"));
    client
        .batch_execute("SET extra_float_digits = 3")
        .await
        .unwrap();
    client.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    let rows = simple_rows(client.simple_query("SHOW TIME ZONE").await.unwrap());
    assert_eq!(rows[0][0].as_deref(), Some("UTC"));
}

#[tokio::test(flavor = "multi_thread")]
async fn many_concurrent_connections() {
    let server = TestServer::start();
    let tasks = (0..24).map(|i| {
        let conn = server.conn_str();
        tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            let antenna = almasql::engine::demo::ANTENNAS[i].name;
            let n: i64 = client
                .query_one(
                    "select count(*) from monitor.samples where antenna = $1",
                    &[&antenna],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(n, ROWS_PER_ANTENNA);
        })
    });
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn large_results_stream_with_bounded_memory() {
    let server = TestServer::start();
    let client = server.connect().await;
    // Warm up so the baseline includes the runtime and catalog.
    client
        .query("select * from monitor.samples limit 10", &[])
        .await
        .unwrap();
    let before = peak_rss_kib(server.pid());
    // ~3 M rows × 9 columns: about 400 MB as Postgres text, more as rows in memory.
    let params: [&str; 0] = [];
    let stream = client
        .query_raw("select * from monitor.samples", params)
        .await
        .unwrap();
    let rows = stream
        .try_fold(0u64, |n, _| async move { Ok(n + 1) })
        .await
        .unwrap();
    assert_eq!(rows, (66 * ROWS_PER_ANTENNA + WEATHER_ROWS) as u64);
    let after = peak_rss_kib(server.pid());
    let growth_mib = after.saturating_sub(before) / 1024;
    assert!(
        growth_mib < 150,
        "server peak memory grew by {growth_mib} MiB while streaming"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_shuts_down_cleanly() {
    let server = TestServer::start();
    let client = server.connect().await;
    client.query_one("select 1::int", &[]).await.unwrap();
    drop(client);
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn portal_row_limits_page_through_results() {
    let server = TestServer::start();
    let mut client = server.connect().await;
    let tx = client.transaction().await.unwrap();
    let portal = tx
        .bind("select antenna from ops.antennas order by antenna", &[])
        .await
        .unwrap();
    let mut seen = vec![];
    loop {
        let page = tx.query_portal(&portal, 20).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 20);
        seen.extend(page.iter().map(|r| r.get::<_, String>(0)));
    }
    assert_eq!(seen.len(), 66);
    assert_eq!(seen[0], "CM01");
}

/// One frontend message: its type byte, then its length and `body`.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads backend messages until one of type `until`; returns their types.
async fn read_until(stream: &mut tokio::net::TcpStream, until: u8) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut kinds = vec![];
    loop {
        let kind = stream.read_u8().await.expect("a message");
        let len = stream.read_u32().await.expect("its length") as usize;
        let mut body = vec![0; len - 4];
        stream.read_exact(&mut body).await.expect("its body");
        kinds.push(kind);
        if kind == until {
            return kinds;
        }
    }
}

/// The answers to Parse, Bind, Describe and Execute wait in the server's
/// buffer until Sync or Flush, as PostgreSQL's do, rather than costing a
/// socket write each; Flush sends them, Sync ends with ReadyForQuery.
#[tokio::test(flavor = "multi_thread")]
async fn extended_answers_are_flushed_at_sync_and_flush() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut startup = 196_608u32.to_be_bytes().to_vec();
    startup.extend_from_slice(b"user\0almasql\0database\0almasql\0\0");
    let mut packet = (startup.len() as u32 + 4).to_be_bytes().to_vec();
    packet.extend_from_slice(&startup);
    stream.write_all(&packet).await.unwrap();
    read_until(&mut stream, b'Z').await;

    let mut batch = message(b'P', b"\0select 41 + 1\0\0\0");
    batch.extend(message(b'B', b"\0\0\0\0\0\0\0\0"));
    batch.extend(message(b'D', b"P\0"));
    batch.extend(message(b'E', b"\0\0\0\0\0"));
    stream.write_all(&batch).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut byte)).await;
    assert!(early.is_err(), "the server wrote before Sync or Flush");

    stream.write_all(&message(b'H', b"")).await.unwrap();
    assert_eq!(read_until(&mut stream, b'C').await, b"12TDC");
    stream.write_all(&message(b'S', b"")).await.unwrap();
    assert_eq!(read_until(&mut stream, b'Z').await, b"Z");

    // an error skips to Sync, whose ReadyForQuery carries it out
    stream
        .write_all(&message(b'P', b"\0select * from no_such_table\0\0\0"))
        .await
        .unwrap();
    stream.write_all(&message(b'S', b"")).await.unwrap();
    assert_eq!(read_until(&mut stream, b'Z').await, b"EZ");
}

#[tokio::test(flavor = "multi_thread")]
async fn declared_cursors_fetch_forward_over_both_protocols() {
    let server = TestServer::start();
    let mut client = server.connect().await;
    let query = "select antenna from ops.antennas where antenna like $1 order by antenna";
    let all: Vec<String> = client
        .query(query, &[&"DA%"])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(all.len() > 10, "{all:?}");

    // extended protocol: DECLARE with a parameter, FETCH described by the cursor
    let tx = client.transaction().await.unwrap();
    let declared = tx
        .execute(
            &format!("declare c no scroll cursor for {query}"),
            &[&"DA%"],
        )
        .await
        .unwrap();
    assert_eq!(declared, 0);
    let first: Vec<String> = tx
        .query("fetch forward 5 from c", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let next: Vec<String> = tx
        .query("fetch next from c", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // simple protocol: the rest, then nothing
    let rest = simple_rows(tx.simple_query("fetch all in c").await.unwrap());
    let after = simple_rows(tx.simple_query("fetch 10 from c").await.unwrap());
    let mut seen = first.clone();
    seen.extend(next.clone());
    seen.extend(rest.iter().map(|r| r[0].clone().unwrap()));
    assert_eq!((first.len(), next.len()), (5, 1));
    assert_eq!(seen, all);
    assert!(after.is_empty(), "{after:?}");
    tx.simple_query("close c").await.unwrap();
    let err = tx.query("fetch 1 from c", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INVALID_CURSOR_NAME), "{err}");
    tx.rollback().await.unwrap();

    // a cursor ends with its transaction unless it is WITH HOLD
    let tx = client.transaction().await.unwrap();
    tx.simple_query("declare gone cursor for select 1 as one; declare kept cursor with hold for select 2 as two")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    expect_code(
        &client,
        "fetch 1 from gone",
        &SqlState::INVALID_CURSOR_NAME,
        true,
    )
    .await;
    let kept = client.query("fetch all from kept", &[]).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].columns()[0].name(), "two");
    assert_eq!(kept[0].get::<_, i64>(0), 2);

    // what almasql cursors do not do fails with PostgreSQL's SQLSTATEs
    expect_code(
        &client,
        "fetch backward 1 from kept",
        &SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        true,
    )
    .await;
    expect_code(
        &client,
        "declare kept cursor with hold for select 3",
        &SqlState::DUPLICATE_CURSOR,
        true,
    )
    .await;
    expect_code(
        &client,
        "declare s scroll cursor with hold for select 1",
        &SqlState::FEATURE_NOT_SUPPORTED,
        false,
    )
    .await;
    client.simple_query("close kept").await.unwrap();
    expect_code(&client, "close kept", &SqlState::INVALID_CURSOR_NAME, true).await;
    expect_code(
        &client,
        "fetch 1 from missing",
        &SqlState::INVALID_CURSOR_NAME,
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_over_a_large_result_holds_little_memory() {
    let server = TestServer::start();
    let mut client = server.connect().await;
    client
        .query("select * from monitor.samples limit 10", &[])
        .await
        .unwrap();
    let before = peak_rss_kib(server.pid());
    let tx = client.transaction().await.unwrap();
    tx.simple_query("declare big cursor for select * from monitor.samples")
        .await
        .unwrap();
    let mut rows = 0i64;
    loop {
        let page = tx.query("fetch forward 20000 from big", &[]).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 20000);
        rows += page.len() as i64;
    }
    tx.commit().await.unwrap();
    assert_eq!(rows, 66 * ROWS_PER_ANTENNA + WEATHER_ROWS);
    let growth_mib = peak_rss_kib(server.pid()).saturating_sub(before) / 1024;
    assert!(
        growth_mib < 150,
        "server peak memory grew by {growth_mib} MiB while fetching from a cursor"
    );
}
