//! Text-format results as PostgreSQL 15 prints them: the same select
//! lists on almasql and on a real PostgreSQL (the one the suite starts),
//! compared byte for byte over the simple and the extended protocol.

use tokio_postgres::SimpleQueryMessage;

use crate::common::TestServer;
use crate::postgres::Postgres;

/// Expressions both servers accept, one value each. Casts to text are not
/// here: almasql's follow Arrow (`2026-01-02T03:04:05Z`), see issue #24.
const VALUES: &[&str] = &[
    "cast(1.5 as double precision)",
    "cast(0.1 as double precision)",
    "cast(1e20 as double precision)",
    "cast(1e15 as double precision)",
    "cast(123456789012345 as double precision)",
    "cast(1e-7 as double precision)",
    "cast(0.0001 as double precision)",
    "cast(123456789012345678 as double precision)",
    "cast('Infinity' as double precision)",
    "cast('-Infinity' as double precision)",
    "cast('NaN' as double precision)",
    "cast(1.5 as double precision) / 7",
    "cast(1.1 as real)",
    "cast(1e20 as real)",
    "cast(1234567 as real)",
    "cast(1.50 as numeric(10,2))",
    "true",
    "false",
    "date '2026-01-02'",
    "timestamp '2026-01-02 03:04:05.5'",
    "timestamp '2026-01-02 03:04:05'",
    "cast('2026-01-02 03:04:05.5+00' as timestamp with time zone)",
    "cast('2026-01-02 03:04:05.000123+00' as timestamp with time zone)",
    "time '03:04:05'",
    "time '03:04:05.25'",
    "interval '1 day 2 hours'",
    "interval '3 months'",
    "interval '90 minutes'",
    "interval '-1 day'",
    "array[1,2,3]",
    "array['a','b c', 'd\"e']",
    "array[true, false]",
    "cast('ab' as bytea)",
    "cast(12345678901234 as bigint)",
];

/// The text of the one value `select {expr}` answers over the simple protocol.
async fn text_of(client: &tokio_postgres::Client, expr: &str) -> String {
    let messages = client
        .simple_query(&format!("select {expr}"))
        .await
        .unwrap_or_else(|e| panic!("select {expr}: {e}"));
    messages
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("select {expr}: no row"))
}

/// The differences, one line each, of almasql's text from PostgreSQL's.
async fn differences(
    pg: &tokio_postgres::Client,
    alma: &tokio_postgres::Client,
    values: &[&str],
) -> Vec<String> {
    let mut out = vec![];
    for expr in values {
        let want = text_of(pg, expr).await;
        let got = text_of(alma, expr).await;
        if want != got {
            out.push(format!("{expr}: PostgreSQL {want:?}, almasql {got:?}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn text_results_are_printed_as_postgres_prints_them() {
    let pg = Postgres::start();
    let server = TestServer::start();
    let pg = pg.client().await;
    let alma = server.connect().await;
    pg.simple_query("set timezone = 'UTC'").await.unwrap();
    let diff = differences(&pg, &alma, VALUES).await;
    assert!(diff.is_empty(), "{}", diff.join("\n"));

    // a timestamptz is shown in the session's time zone
    let zoned = [
        "cast('2026-01-15 12:00:00+00' as timestamp with time zone)",
        "cast('2026-07-15 12:00:00.5+00' as timestamp with time zone)",
    ];
    for client in [&pg, &alma] {
        client
            .simple_query("set timezone = 'America/Santiago'")
            .await
            .unwrap();
    }
    let diff = differences(&pg, &alma, &zoned).await;
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    let column = "select time from monitor.samples where time = '2026-01-02 00:00:00+00' limit 1";
    let rows = alma.simple_query(column).await.unwrap();
    let shown = rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(shown.as_deref(), Some("2026-01-01 21:00:00-03"));
}
