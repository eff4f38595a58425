//! Tests of the materialized views.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::config::Config;
use crate::instance::Session;
use crate::test_support::{
    events, format_rows, query_error, rows, session, session_with, set_table,
};

fn name(n: &str) -> MvName {
    MvName::new("public", n)
}

/// The files under a view's data directory, relative to it, sorted.
fn data_files(dir: &Path, key: &str) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let root = dir.join(DATA_DIR).join(key);
    let mut out = vec![];
    walk(&root, &root, &mut out);
    out.sort();
    out
}

async fn history(s: &Session, view: &str) -> Vec<String> {
    rows(
        s,
        &format!(
            "select status, rows, error from almasql.refresh_history where view = '{view}' \
             order by started_at"
        ),
    )
    .await
}

#[tokio::test]
async fn create_refresh_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![("events", events(&[(1, "a"), (2, "b")]))]).await;
    let outcome = s
        .materialized()
        .execute(
            parse_statement(
                "create materialized view counts as select v, count(*) as n from events group by v",
            )
            .unwrap()
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        MvOutcome {
            tag: "CREATE MATERIALIZED VIEW",
            rows: Some(2)
        }
    );
    assert_eq!(
        rows(&s, "select v, n from counts order by v").await,
        ["a|1", "b|1"]
    );

    set_table(
        s.context(),
        "events",
        events(&[(1, "a"), (2, "b"), (3, "b")]),
    );
    // Not refreshed yet: the stored rows.
    assert_eq!(
        rows(&s, "select v, n from counts order by v").await,
        ["a|1", "b|1"]
    );
    rows(&s, "refresh materialized view counts").await;
    assert_eq!(
        rows(&s, "select v, n from counts order by v").await,
        ["a|1", "b|2"]
    );
    assert_eq!(
        rows(
            &s,
            "select name, mode, refresh_interval, rows, status, last_error, \
             last_refresh is not null, staleness_seconds < 60, bytes > 0 \
             from almasql.materialized_views"
        )
        .await,
        ["public.counts|full|NULL|2|ok|NULL|true|true|true"]
    );
    assert_eq!(
        history(&s, "public.counts").await,
        ["ok|2|NULL", "ok|2|NULL"]
    );
    // Listed as a view with its definition.
    assert_eq!(
        rows(
            &s,
            "select definition from information_schema.views where table_name = 'counts'"
        )
        .await,
        [
            "CREATE MATERIALIZED VIEW public.counts AS select v, count(*) as n from events group by v"
        ]
    );

    let e = query_error(&s, "create materialized view counts as select 1").await;
    assert!(
        e.contains("public.counts") && e.contains("already exists"),
        "{e}"
    );
    rows(
        &s,
        "create materialized view if not exists counts as select 1",
    )
    .await;
    let e = query_error(&s, "create materialized view events as select 1").await;
    assert!(e.contains("already exists"), "{e}");
    // DROP VIEW leaves it alone (DataFusion reports it as missing).
    let e = query_error(&s, "drop view counts").await;
    assert!(e.contains("counts"), "{e}");
    assert_eq!(rows(&s, "select count(*) from counts").await, ["2"]);

    let key = "public.counts";
    assert!(!data_files(dir.path(), key).is_empty());
    rows(&s, "drop materialized view counts").await;
    let e = query_error(&s, "select * from counts").await;
    assert!(e.contains("counts") && e.contains("not found"), "{e}");
    assert!(data_files(dir.path(), key).is_empty());
    assert!(!dir.path().join(DATA_DIR).join(key).exists());
    assert!(
        !dir.path()
            .join(DEFINITIONS_DIR)
            .join("public.counts.json")
            .exists()
    );
    rows(&s, "drop materialized view if exists counts").await;
    let e = query_error(&s, "drop materialized view counts").await;
    assert!(e.contains("does not exist"), "{e}");
    let e = query_error(&s, "refresh materialized view counts").await;
    assert!(e.contains("does not exist"), "{e}");
}

#[tokio::test]
async fn a_failed_create_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![]).await;
    let e = query_error(&s, "create materialized view m as select * from missing").await;
    assert!(e.contains("public.m") && e.contains("missing"), "{e}");
    let e = query_error(
        &s,
        "create materialized view m with (mode = 'append', time_column = 'nope') as select 1 as t",
    )
    .await;
    assert!(e.contains("time_column `nope`"), "{e}");
    let e = query_error(&s, "create materialized view nowhere.m as select 1").await;
    assert!(e.contains("schema nowhere does not exist"), "{e}");
    // Plans, but fails when run.
    let e = query_error(
        &s,
        "create materialized view m as select cast('x' as int) as n",
    )
    .await;
    assert!(e.contains("public.m"), "{e}");
    assert!(s.materialized().names().is_empty());
    assert!(
        query_error(&s, "select * from m")
            .await
            .contains("not found")
    );
    assert!(!dir.path().join(DATA_DIR).join("public.m").exists());
    assert_eq!(history(&s, "public.m").await.len(), 1);
}

#[tokio::test]
async fn materialized_views_persist_across_sessions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = session(dir.path(), vec![("events", events(&[(1, "a"), (2, "b")]))]).await;
        rows(&s, "create schema reports").await;
        rows(
            &s,
            "create materialized view reports.\"Latest\" with (refresh = '1 hour') as \
             select v, t from events where v = 'b'",
        )
        .await;
    }
    // The source is gone: the stored rows are still served.
    let s = session(dir.path(), vec![]).await;
    assert_eq!(
        rows(&s, "select v, t from reports.\"Latest\"").await,
        ["b|2026-01-01T00:02:00"]
    );
    assert_eq!(
        rows(
            &s,
            "select name, refresh_interval, rows, status from almasql.materialized_views"
        )
        .await,
        ["reports.\"Latest\"|1 hour|1|ok"]
    );
    assert_eq!(history(&s, "reports.\"Latest\"").await, ["ok|1|NULL"]);
    // Its refresh fails now, and the rows stay readable.
    let e = query_error(&s, "refresh materialized view reports.\"Latest\"").await;
    assert!(e.contains("events"), "{e}");
    assert_eq!(
        rows(&s, "select count(*) from reports.\"Latest\"").await,
        ["1"]
    );
    drop(s);
    let s = session(dir.path(), vec![]).await;
    let h = history(&s, "reports.\"Latest\"").await;
    assert_eq!(h.len(), 2);
    assert!(
        h[1].starts_with("failed|NULL|") && h[1].contains("events"),
        "{h:?}"
    );
}

#[tokio::test]
async fn a_failing_refresh_is_recorded_and_the_old_rows_stay() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![("events", events(&[(1, "a"), (2, "b")]))]).await;
    rows(&s, "create materialized view vs as select v from events").await;
    // The source loses the column the view needs.
    let other = crate::test_support::events(&[(1, "a")])
        .project(&[0])
        .unwrap();
    set_table(s.context(), "events", other);
    let e = query_error(&s, "refresh materialized view vs").await;
    assert!(
        e.contains("materialized view public.vs") && e.contains('v'),
        "{e}"
    );
    assert_eq!(rows(&s, "select v from vs order by v").await, ["a", "b"]);
    let h = history(&s, "public.vs").await;
    assert_eq!(h.len(), 2);
    assert!(h[1].starts_with("failed|NULL|"), "{h:?}");
    assert!(h[1].contains("events.v") || h[1].contains("field"), "{h:?}");
    assert_eq!(
        rows(
            &s,
            "select status, rows, last_error is not null from almasql.materialized_views"
        )
        .await,
        ["failed|2|true"]
    );
    // Only the first version's files remain.
    assert_eq!(
        data_files(dir.path(), "public.vs"),
        ["manifest.json", "v1/part-0.parquet"]
    );
}

#[tokio::test]
async fn readers_keep_the_version_they_planned_against() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![("events", events(&[(1, "old")]))]).await;
    rows(&s, "create materialized view m as select v from events").await;
    let stream = s
        .sql("select v from m")
        .await
        .unwrap()
        .execute_stream()
        .await
        .unwrap();
    set_table(s.context(), "events", events(&[(1, "new"), (2, "new")]));
    rows(&s, "refresh materialized view m").await;
    let old: Vec<_> = futures::StreamExt::collect::<Vec<_>>(stream)
        .await
        .into_iter()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(format_rows(&old), ["old"]);
    assert_eq!(rows(&s, "select v from m").await, ["new", "new"]);
    // The previous version is kept for readers like that one; the one
    // before it goes with the next refresh.
    assert_eq!(
        data_files(dir.path(), "public.m"),
        ["manifest.json", "v1/part-0.parquet", "v2/part-0.parquet"]
    );
    rows(&s, "refresh materialized view m").await;
    assert_eq!(
        data_files(dir.path(), "public.m"),
        ["manifest.json", "v2/part-0.parquet", "v3/part-0.parquet"]
    );
}

#[tokio::test]
async fn an_interrupted_refresh_leaves_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let source = || vec![("events", events(&[(1, "a")]))];
    let s = session(dir.path(), source()).await;
    rows(&s, "create materialized view m as select v from events").await;
    set_table(s.context(), "events", events(&[(1, "a"), (2, "b")]));

    // Stop a refresh after it wrote its version, before the switch.
    let pause = dir.path().join("pause");
    s.materialized().set_pause_file(Some(pause.clone()));
    let views = s.materialized().clone();
    let refresh = tokio::spawn(async move { views.refresh(&name("m")).await });
    let reached = dir.path().join("pause.reached");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reached.exists() {
        assert!(Instant::now() < deadline, "the refresh never paused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Readers see the previous version meanwhile.
    assert_eq!(rows(&s, "select v from m").await, ["a"]);
    refresh.abort();
    assert!(refresh.await.unwrap_err().is_cancelled());
    assert!(data_files(dir.path(), "public.m").contains(&"v2/part-0.parquet".to_string()));
    // More debris: a stray version, an interrupted upload, a temp file, and
    // the directory of a view that no longer exists.
    let root = dir.path().join(DATA_DIR);
    std::fs::create_dir_all(root.join("public.m/v7")).unwrap();
    std::fs::write(root.join("public.m/v7/part-0.parquet"), b"junk").unwrap();
    std::fs::write(root.join("public.m/v1/part-0.parquet#1"), b"junk").unwrap();
    std::fs::write(root.join("public.m/manifest.json#3"), b"junk").unwrap();
    std::fs::create_dir_all(root.join("public.gone/v1")).unwrap();
    std::fs::write(root.join("public.gone/v1/part-0.parquet"), b"junk").unwrap();
    drop(s);

    let s = session(dir.path(), source()).await;
    assert_eq!(rows(&s, "select v from m").await, ["a"]);
    assert_eq!(
        data_files(dir.path(), "public.m"),
        ["manifest.json", "v1/part-0.parquet"]
    );
    assert!(!root.join("public.gone").exists());
    assert!(!root.join("public.m/v7").exists());
    set_table(s.context(), "events", events(&[(1, "a"), (2, "b")]));
    rows(&s, "refresh materialized view m").await;
    assert_eq!(rows(&s, "select v from m order by v").await, ["a", "b"]);
}

#[tokio::test]
async fn append_mode_adds_only_new_rows() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![("events", events(&[(0, "a"), (10, "b")]))]).await;
    rows(
        &s,
        "create materialized view tail with (mode = 'append', time_column = 't') \
         as select t, v from events",
    )
    .await;
    rows(
        &s,
        "create materialized view late with (mode = 'append', time_column = 't', \
         overlap = '10 minutes') as select t, v from events",
    )
    .await;
    // A late row inside the overlap window, a row already stored, a new row.
    set_table(
        s.context(),
        "events",
        events(&[(0, "a"), (10, "b"), (5, "late"), (20, "c")]),
    );
    let mv = s.materialized();
    assert_eq!(mv.refresh(&name("tail")).await.unwrap().rows, 1);
    assert_eq!(mv.refresh(&name("late")).await.unwrap().rows, 2);
    let minutes = "cast(extract(epoch from t) as bigint) / 60 % 1440";
    assert_eq!(
        rows(&s, &format!("select {minutes}, v from tail order by t")).await,
        ["0|a", "10|b", "20|c"]
    );
    assert_eq!(
        rows(&s, &format!("select {minutes}, v from late order by t")).await,
        ["0|a", "5|late", "10|b", "20|c"]
    );
    // Nothing new: nothing added, no duplicates of the overlap window.
    assert_eq!(mv.refresh(&name("late")).await.unwrap().rows, 0);
    assert_eq!(mv.refresh(&name("tail")).await.unwrap().rows, 0);
    assert_eq!(rows(&s, "select count(*) from late").await, ["4"]);
    assert_eq!(rows(&s, "select count(*) from tail").await, ["3"]);
    // The stored rows are kept across sessions and appended to.
    drop(s);
    let s = session(
        dir.path(),
        vec![("events", events(&[(10, "b"), (20, "c"), (30, "d")]))],
    )
    .await;
    assert_eq!(
        s.materialized().refresh(&name("late")).await.unwrap().rows,
        1
    );
    assert_eq!(rows(&s, "select count(*) from late").await, ["5"]);
    assert_eq!(rows(&s, "select v from late where v = 'd'").await, ["d"]);
    assert_eq!(
        rows(
            &s,
            "select rows from almasql.materialized_views where name = 'public.late'"
        )
        .await,
        ["5"]
    );
}

#[tokio::test]
async fn scheduler_refreshes_on_its_interval_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![("events", events(&[(1, "a")]))]).await;
    rows(
        &s,
        "create materialized view ticking with (refresh = '200 ms') as \
         select count(*) as n from events",
    )
    .await;
    let handle = s.materialized().start_scheduler();
    let view = name("ticking");
    // Manual refreshes meanwhile wait for the scheduled ones.
    let manual = {
        let views = s.materialized().clone();
        let view = view.clone();
        tokio::spawn(async move {
            for _ in 0..5 {
                views.refresh(&view).await.unwrap();
                tokio::time::sleep(Duration::from_millis(70)).await;
            }
        })
    };
    set_table(s.context(), "events", events(&[(1, "a"), (2, "b")]));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let scheduled = s.materialized().history().len();
        if scheduled >= 9 {
            break;
        }
        assert!(Instant::now() < deadline, "only {scheduled} refreshes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    manual.await.unwrap();
    assert_eq!(s.materialized().max_concurrent_refreshes(&view), 1);
    let history = s.materialized().history();
    for pair in history.windows(2) {
        assert!(
            pair[1].started_at_us >= pair[0].finished_at_us,
            "overlapping refreshes: {pair:?}"
        );
    }
    assert!(history.iter().all(|r| r.status == "ok"));
    assert_eq!(rows(&s, "select n from ticking").await, ["2"]);
    let next = rows(
        &s,
        "select next_refresh is not null from almasql.materialized_views",
    )
    .await;
    assert_eq!(next, ["true"]);

    handle.shutdown().await;
    let after = s.materialized().history().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s.materialized().history().len(), after);
}

#[tokio::test]
async fn scheduler_stops_when_the_views_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let history_len = {
        let s = session(dir.path(), vec![("events", events(&[(1, "a")]))]).await;
        rows(
            &s,
            "create materialized view ticking with (refresh = '100 ms') as select v from events",
        )
        .await;
        let handle = s.materialized().start_scheduler();
        std::mem::forget(handle);
        tokio::time::sleep(Duration::from_millis(450)).await;
        let len = s.materialized().history().len();
        assert!(len >= 2, "{len}");
        len
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lines = std::fs::read_to_string(dir.path().join(HISTORY_FILE)).unwrap();
    let written = lines.lines().count();
    // At most one refresh was under way when the session went away.
    assert!(written <= history_len + 1, "{written} > {history_len} + 1");
}

#[tokio::test]
async fn failed_scheduled_refreshes_are_retried_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![("events", events(&[(1, "a")]))]).await;
    rows(
        &s,
        "create materialized view m with (refresh = '300 ms') as select v from events",
    )
    .await;
    let _handle = s.materialized().start_scheduler();
    let broken = events(&[(1, "a")]).project(&[0]).unwrap();
    set_table(s.context(), "events", broken);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let failed: Vec<_> = s
        .materialized()
        .history()
        .into_iter()
        .filter(|r| r.status == "failed")
        .collect();
    // Retried (the backoff is capped at the interval), not more often
    // than the interval allows.
    assert!((2..=6).contains(&failed.len()), "{}", failed.len());
    assert_eq!(rows(&s, "select v from m").await, ["a"]);
    set_table(s.context(), "events", events(&[(1, "a"), (2, "b")]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while rows(&s, "select count(*) from m").await != ["2"] {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        rows(
            &s,
            "select status, last_error from almasql.materialized_views"
        )
        .await,
        ["ok|NULL"]
    );
}

#[tokio::test]
async fn configured_views_are_populated_by_the_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(
        &format!(
            "data_dir = {:?}\n\
             [[materialized_views]]\n\
             name = \"ops.summary\"\n\
             query = \"select count(*) as n from public.events\"\n\
             refresh = \"1 hour\"\n",
            dir.path()
        ),
        "test.toml",
    )
    .unwrap();
    let s = session_with(&config, vec![("events", events(&[(1, "a"), (2, "b")]))]).await;
    let e = query_error(&s, "select n from ops.summary").await;
    assert!(e.contains("has not been populated"), "{e}");
    assert_eq!(
        rows(&s, "select status from almasql.materialized_views").await,
        ["not populated"]
    );
    let _handle = s.materialized().start_scheduler();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.materialized().history().is_empty() {
        assert!(Instant::now() < deadline, "never refreshed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rows(&s, "select n from ops.summary").await, ["2"]);
    let e = query_error(&s, "drop materialized view ops.summary").await;
    assert!(e.contains("configuration file"), "{e}");
    // A changed query is not served from the old rows.
    drop(s);
    let mut changed = config.clone();
    changed.materialized_views[0].query = "select count(*) + 100 as n from public.events".into();
    let s = session_with(&changed, vec![("events", events(&[(1, "a")]))]).await;
    assert!(
        query_error(&s, "select n from ops.summary")
            .await
            .contains("has not been populated")
    );
    s.materialized()
        .refresh(&MvName::new("ops", "summary"))
        .await
        .unwrap();
    assert_eq!(rows(&s, "select n from ops.summary").await, ["101"]);
}

#[tokio::test]
async fn sql_routes_materialized_view_statements() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![]).await;
    let df = crate::sql(
        s.context(),
        s.materialized(),
        "/* c */ CREATE MATERIALIZED VIEW one AS SELECT 1 AS x;",
    )
    .await
    .unwrap();
    assert!(
        df.collect()
            .await
            .unwrap()
            .iter()
            .all(|b| b.num_rows() == 0)
    );
    assert_eq!(rows(&s, "select x from one").await, ["1"]);
    let e = query_error(
        &s,
        "create materialized view two with (bogus = 1) as select 1",
    )
    .await;
    assert!(e.contains("syntax error") && e.contains("bogus"), "{e}");
    assert_eq!(rows(&s, "select 2").await, ["2"]);
}
