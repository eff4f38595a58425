use super::*;
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::test_support::{events, query_error, rows, session};

fn stored_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join(VIEWS_DIR))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn views_persist_across_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let source = || vec![("events", events(&[(1, "a"), (2, "b"), (3, "b")]))];
    {
        let s = session(dir.path(), source()).await;
        rows(&s, "create schema s").await;
        rows(
            &s,
            "create view s.base as select v from public.events where v = 'b'",
        )
        .await;
        // Planned after s.base although it sorts first.
        rows(
            &s,
            "create view public.\"Counted\" as select count(*) as n from s.base",
        )
        .await;
        assert_eq!(rows(&s, "select n from \"Counted\"").await, ["2"]);
    }
    assert_eq!(
        stored_files(dir.path()),
        ["public.Counted.sql", "s.base.sql"]
    );

    let s = session(dir.path(), source()).await;
    assert!(s.broken_views().is_empty());
    assert_eq!(rows(&s, "select n from \"Counted\"").await, ["2"]);
    assert_eq!(rows(&s, "select v from s.base").await, ["b", "b"]);
    assert_eq!(
        rows(
            &s,
            // DataFusion lists base tables too, without a definition.
            "select table_schema, table_name, definition from information_schema.views \
             where table_schema in ('public', 's') and definition is not null order by 1, 2"
        )
        .await,
        [
            "public|Counted|CREATE VIEW public.\"Counted\" AS SELECT count(*) AS n FROM s.base",
            "s|base|CREATE VIEW s.base AS SELECT v FROM public.events WHERE v = 'b'",
        ]
    );
    assert_eq!(
        rows(
            &s,
            "select relname, relkind from pg_catalog.pg_class where relname in ('Counted', 'base') order by 1"
        )
        .await,
        ["Counted|v", "base|v"]
    );
    // psql's \d+ asks for the query by oid.
    assert_eq!(
        rows(
            &s,
            "select relname, pg_get_viewdef(oid, true) from pg_catalog.pg_class \
             where relkind = 'v' and relname in ('Counted', 'base') order by 1"
        )
        .await,
        [
            "Counted|SELECT count(*) AS n FROM s.base",
            "base|SELECT v FROM public.events WHERE v = 'b'"
        ]
    );
    assert_eq!(
        rows(
            &s,
            "select pg_get_viewdef('s.base'), pg_get_viewdef('nope')"
        )
        .await,
        ["SELECT v FROM public.events WHERE v = 'b'|NULL"]
    );
}

#[tokio::test]
async fn replace_and_drop_persist() {
    let dir = tempfile::tempdir().unwrap();
    let source = || vec![("events", events(&[(1, "a"), (2, "b")]))];
    {
        let s = session(dir.path(), source()).await;
        rows(&s, "create view v as select v from events where v = 'a'").await;
        rows(
            &s,
            "create or replace view v as select v from events where v = 'b'",
        )
        .await;
        rows(&s, "create view gone as select 1 as x").await;
        rows(&s, "drop view gone").await;
        rows(&s, "drop view if exists never_was").await;
        let e = query_error(&s, "drop view never_was").await;
        assert!(e.contains("doesn't exist"), "{e}");
        assert_eq!(rows(&s, "select * from v").await, ["b"]);
    }
    assert_eq!(stored_files(dir.path()), ["public.v.sql"]);
    let s = session(dir.path(), source()).await;
    assert_eq!(rows(&s, "select * from v").await, ["b"]);
    let e = query_error(&s, "select * from gone").await;
    assert!(e.contains("gone"), "{e}");
    rows(&s, "drop view v").await;
    assert!(stored_files(dir.path()).is_empty());
    drop(s);
    let s = session(dir.path(), source()).await;
    assert!(
        query_error(&s, "select * from v")
            .await
            .contains("not found")
    );
}

#[tokio::test]
async fn broken_view_is_reported_and_the_session_still_builds() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = session(dir.path(), vec![("events", events(&[(1, "a")]))]).await;
        rows(&s, "create view needs_events as select v from events").await;
        rows(&s, "create view fine as select 1 as one").await;
    }
    // The source is gone at the next start.
    let s = session(dir.path(), vec![]).await;
    let broken: Vec<_> = s.broken_views().iter().map(|b| b.name()).collect();
    assert_eq!(broken, ["public.needs_events"]);
    assert!(s.broken_views()[0].reason().contains("events"));
    assert_eq!(rows(&s, "select one from fine").await, ["1"]);
    for query in [
        "select count(*) from needs_events",
        "select v from needs_events where v > 'a'",
    ] {
        let e = query_error(&s, query).await;
        assert!(
            e.contains("view public.needs_events cannot be used") && e.contains("events"),
            "{e}"
        );
    }
    // Still listed with its stored definition, and the file is kept.
    assert_eq!(
        rows(
            &s,
            "select definition from information_schema.views where table_name = 'needs_events'"
        )
        .await,
        ["CREATE VIEW needs_events AS SELECT v FROM events"]
    );
    assert_eq!(
        stored_files(dir.path()),
        ["public.fine.sql", "public.needs_events.sql"]
    );
    // It can be replaced, and the replacement persists.
    rows(&s, "create or replace view needs_events as select 'x' as v").await;
    assert_eq!(rows(&s, "select v from needs_events").await, ["x"]);
    drop(s);
    let s = session(dir.path(), vec![]).await;
    assert!(s.broken_views().is_empty());
    assert_eq!(rows(&s, "select v from needs_events").await, ["x"]);
    rows(&s, "drop view needs_events").await;
    assert_eq!(stored_files(dir.path()), ["public.fine.sql"]);
}

#[tokio::test]
async fn drop_schema_cascade_forgets_its_views() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path(), vec![]).await;
    rows(&s, "create schema tmp").await;
    rows(&s, "create view tmp.v as select 1 as x").await;
    assert_eq!(stored_files(dir.path()), ["tmp.v.sql"]);
    rows(&s, "drop schema tmp cascade").await;
    assert!(stored_files(dir.path()).is_empty());
}

#[test]
fn stored_columns_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = ViewStore::new(dir.path().to_path_buf());
    let columns = Schema::new(vec![
        Field::new(
            "t",
            DataType::Timestamp(
                datafusion::arrow::datatypes::TimeUnit::Microsecond,
                Some("UTC".into()),
            ),
            true,
        ),
        Field::new("Name \"x\"", DataType::Utf8View, false),
        Field::new("n", DataType::Decimal128(12, 3), true),
    ]);
    let definition = "CREATE VIEW v AS SELECT 1\n-- trailing\n";
    store.save("public", "v", definition, &columns).unwrap();
    let views = store.load().unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].definition, definition);
    assert_eq!(*views[0].columns, columns);
    // A file without the header (written by hand) still loads.
    std::fs::write(dir.path().join("public.w.sql"), "CREATE VIEW w AS SELECT 2").unwrap();
    let views = store.load().unwrap();
    assert_eq!(views[1].definition, "CREATE VIEW w AS SELECT 2");
    assert!(views[1].columns.fields().is_empty());
}
