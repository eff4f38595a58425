//! Views and materialized views through the real server: persistence across
//! a restart, the scheduler, and `kill -9` in the middle of a refresh.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::TestServer;

/// A server on its own data directory (the demo dataset is generated into
/// it: these tests write views and must not share state).
fn server_in(dir: &Path, env: &[(&str, &str)]) -> TestServer {
    TestServer::start_in(dir, &[], env)
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn views_and_materialized_views_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let lo2;
    {
        let server = server_in(dir.path(), &[]);
        let client = server.connect().await;
        client
            .batch_execute(
                "create view public.dominant_lo2 as \
                 select antenna, count(*) as n from monitor.lo2_frequency_offsets group by antenna; \
                 create materialized view public.lo2_daily as \
                 select antenna, cast(time as date) as day, count(*) as n \
                 from monitor.lo2_frequency_offsets group by 1, 2",
            )
            .await
            .unwrap();
        lo2 = count(&client, "select sum(n) from public.lo2_daily").await;
        assert_eq!(
            lo2,
            count(
                &client,
                "select count(*) from monitor.lo2_frequency_offsets"
            )
            .await
        );
        server.terminate();
    }
    let server = server_in(dir.path(), &[]);
    let client = server.connect().await;
    assert_eq!(
        count(&client, "select sum(n) from public.lo2_daily").await,
        lo2
    );
    assert_eq!(
        count(&client, "select sum(n) from public.dominant_lo2").await,
        lo2
    );
    // psql's \dv and \d+ read these.
    let kinds = client
        .query(
            "select c.relname, c.relkind from pg_catalog.pg_class c \
             where c.relname in ('dominant_lo2', 'lo2_daily') order by 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    let definition: String = client
        .query_one(
            "select definition from information_schema.views where table_name = 'dominant_lo2'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(definition.contains("lo2_frequency_offsets"), "{definition}");
    let history = count(
        &client,
        "select count(*) from almasql.refresh_history where view = 'public.lo2_daily' and status = 'ok'",
    )
    .await;
    assert!(history >= 1);
    client
        .batch_execute("drop view public.dominant_lo2; drop materialized view public.lo2_daily")
        .await
        .unwrap();
    let err = client
        .query("select * from public.lo2_daily", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42P01"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn materialized_views_refresh_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_in(dir.path(), &[]);
    let client = server.connect().await;
    client
        .batch_execute(
            "create materialized view public.ticks with (refresh = '1 second') as \
             select count(*) as n from ops.antennas",
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = count(
            &client,
            "select count(*) from almasql.refresh_history where view = 'public.ticks' and status = 'ok'",
        )
        .await;
        // The CREATE's own refresh, then at least two scheduled ones.
        if done >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} refreshes in 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let row = client
        .query_one(
            "select refresh_interval, next_refresh > last_refresh from almasql.materialized_views \
             where name = 'public.ticks'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(1));
    assert_eq!(count(&client, "select n from public.ticks").await, 66);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_during_refresh_keeps_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let pause = dir.path().join("pause");
    let pause_text = pause.to_string_lossy().into_owned();
    let env = [("ALMASQL_REFRESH_PAUSE_FILE", pause_text.as_str())];
    // First version, written while the hook is released (the pause file exists).
    std::fs::write(&pause, "").unwrap();
    let server = server_in(dir.path(), &env);
    let client = server.connect().await;
    client
        .batch_execute(
            "create materialized view public.antenna_count as select count(*) as n from ops.antennas",
        )
        .await
        .unwrap();
    assert_eq!(
        count(&client, "select n from public.antenna_count").await,
        66
    );
    // Hold the next refresh just before it switches versions, then kill -9.
    std::fs::remove_file(&pause).unwrap();
    let reached = dir.path().join("pause.reached");
    let _ = std::fs::remove_file(&reached);
    let refresher = {
        let conn = server.conn_str();
        tokio::spawn(async move {
            let (c, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            c.batch_execute("refresh materialized view public.antenna_count")
                .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reached.exists() {
        assert!(
            Instant::now() < deadline,
            "the refresh never reached the pause point"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Readers during the refresh see the previous version in full.
    assert_eq!(
        count(&client, "select n from public.antenna_count").await,
        66
    );
    let pid = server.pid();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        refresher.await.unwrap().is_err(),
        "the refresh cannot have finished"
    );
    drop(server);
    let versions_before = std::fs::read_dir(dir.path().join("materialized/public.antenna_count"))
        .unwrap()
        .count();

    // Restart: the previous version is served and the leftovers are gone.
    std::fs::write(&pause, "").unwrap();
    let server = server_in(dir.path(), &env);
    let client = server.connect().await;
    assert_eq!(
        count(&client, "select n from public.antenna_count").await,
        66
    );
    let versions_after = std::fs::read_dir(dir.path().join("materialized/public.antenna_count"))
        .unwrap()
        .count();
    assert!(
        versions_after < versions_before,
        "{versions_before} -> {versions_after}"
    );
}
