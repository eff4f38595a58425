//! Plan once, execute many (the server's plan cache), and queries that a
//! cancel stops: what a cached plan must never get wrong (parameters,
//! `now()`, a changed catalog, one connection's settings), and that a
//! runaway join is stopped by a cancel or `statement_timeout` without
//! stalling the server.

use std::time::Duration;

use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::error::SqlState;

use crate::common::TestServer;

fn first_value(messages: Vec<SimpleQueryMessage>) -> Option<String> {
    messages.into_iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prepared_statement_binds_new_values_at_every_execute() {
    let server = TestServer::start();
    let client = server.connect().await;
    let statement = client
        .prepare("select count(*) from monitor.samples where antenna = $1 and baseband = $2")
        .await
        .unwrap();
    let antennas = &almasql::engine::demo::ANTENNAS;
    let mut counts = vec![];
    for (i, antenna) in antennas.iter().take(4).enumerate() {
        let baseband = format!("BB_{}", i % 4 + 1);
        let n: i64 = client
            .query_one(&statement, &[&antenna.name, &baseband])
            .await
            .unwrap()
            .get(0);
        counts.push(n);
        // the same as a statement planned from scratch with literals
        let literal = format!(
            "select count(*) from monitor.samples where antenna = '{}' and baseband = '{baseband}'",
            antenna.name
        );
        let expected = first_value(client.simple_query(&literal).await.unwrap());
        assert_eq!(Some(n.to_string()), expected, "{literal}");
    }
    assert!(counts.iter().all(|n| *n > 0), "{counts:?}");
    // a value that matches nothing
    let none: i64 = client
        .query_one(&statement, &[&"XX99", &"BB_1"])
        .await
        .unwrap()
        .get(0);
    assert_eq!(none, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn now_is_not_frozen_into_a_reused_plan() {
    let server = TestServer::start();
    let client = server.connect().await;
    let sql = "select cast(cast(now() as timestamp) as varchar)";
    let mut simple = vec![];
    let mut extended = vec![];
    for _ in 0..3 {
        simple.push(first_value(client.simple_query(sql).await.unwrap()).unwrap());
        extended.push(
            client
                .query_one(sql, &[])
                .await
                .unwrap()
                .get::<_, String>(0),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for times in [&simple, &extended] {
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_view_is_planned_again() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute("create view public.plan_cache_probe as select 1 as v")
        .await
        .unwrap();
    let sql = "select v from public.plan_cache_probe";
    for _ in 0..2 {
        assert_eq!(
            first_value(client.simple_query(sql).await.unwrap()).as_deref(),
            Some("1")
        );
        assert_eq!(
            client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0),
            1
        );
    }
    // replaced from another connection: every connection sees the new one
    let other = server.connect().await;
    other
        .batch_execute(
            "drop view public.plan_cache_probe; \
             create view public.plan_cache_probe as select 2 as v",
        )
        .await
        .unwrap();
    assert_eq!(
        first_value(client.simple_query(sql).await.unwrap()).as_deref(),
        Some("2")
    );
    assert_eq!(
        client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0),
        2
    );
    other
        .batch_execute("drop view public.plan_cache_probe")
        .await
        .unwrap();
    let err = client.simple_query(sql).await.unwrap_err();
    assert_eq!(
        err.as_db_error().unwrap().code(),
        &SqlState::UNDEFINED_TABLE
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_connections_settings_do_not_leak_into_anothers_plans() {
    let server = TestServer::start();
    let a = server.connect().await;
    let b = server.connect().await;
    let sql = "select count(*) from antennas";
    // `antennas` is `ops.antennas`: not on the default search path
    let err = b.simple_query(sql).await.unwrap_err();
    assert_eq!(
        err.as_db_error().unwrap().code(),
        &SqlState::UNDEFINED_TABLE
    );
    a.batch_execute("set search_path to ops").await.unwrap();
    let n = first_value(a.simple_query(sql).await.unwrap()).unwrap();
    assert!(n.parse::<i64>().unwrap() > 0);
    assert_eq!(
        a.query_one(sql, &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
            .to_string(),
        n
    );
    for simple in [true, false] {
        let err = if simple {
            b.simple_query(sql).await.map(|_| ()).unwrap_err()
        } else {
            b.query(sql, &[]).await.map(|_| ()).unwrap_err()
        };
        assert_eq!(
            err.as_db_error().unwrap().code(),
            &SqlState::UNDEFINED_TABLE
        );
    }
}

/// A join of the archive with itself whose filter matches nothing: a
/// nested-loop join over 10¹² pairs, which no test waits for.
const RUNAWAY: &str = "select count(*) from monitor.samples a, monitor.samples b \
                       where a.value + b.value > 1e300";

#[tokio::test(flavor = "multi_thread")]
async fn runaway_joins_stop_at_cancel_and_timeout_and_the_server_keeps_answering() {
    let server = TestServer::start();
    // more runaway queries than the machine has cores, each stopped
    // either by a cancel request or by its statement_timeout, after the
    // join has buffered its build side and is probing
    let runaways = (0..4).map(|i| {
        let conn = server.conn_str();
        tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            if i % 2 == 0 {
                client
                    .batch_execute("set statement_timeout = '2s'")
                    .await
                    .unwrap();
            } else {
                let token = client.cancel_token();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    token.cancel_query(tokio_postgres::NoTls).await.unwrap();
                });
            }
            let err = client.simple_query(RUNAWAY).await.unwrap_err();
            assert_eq!(
                err.as_db_error().map(|e| e.code()),
                Some(&SqlState::QUERY_CANCELED),
                "{err}"
            );
            // the connection is usable again
            let ok = first_value(client.simple_query("select 7").await.unwrap());
            assert_eq!(ok.as_deref(), Some("7"));
        })
    });
    // A liveness bound, not a speed measurement: each stopped query's
    // tasks must end, leaving the server free for a new connection.
    let stopped =
        tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(runaways))
            .await
            .expect("runaway queries were not stopped");
    for r in stopped {
        r.unwrap();
    }
    let fresh = tokio::time::timeout(Duration::from_secs(20), async {
        let client = server.connect().await;
        first_value(client.simple_query("select 41 + 1").await.unwrap())
    })
    .await
    .expect("a new connection after the cancels was not answered");
    assert_eq!(fresh.as_deref(), Some("42"));
}
