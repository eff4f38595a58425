//! Helpers shared by the engine's unit tests.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;

use crate::config::Config;
use crate::demo::NoProgress;
use crate::instance::Session;

/// 2026-01-01T00:00:00Z in µs.
pub const BASE_US: i64 = 1_767_225_600_000_000;

/// `public.events (t timestamp, v text)`, `t` in minutes after 2026-01-01.
pub fn events(rows: &[(i64, &str)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), false),
        Field::new("v", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|(m, _)| BASE_US + m * 60_000_000),
            )),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|(_, v)| *v))),
        ],
    )
    .unwrap()
}

/// Replaces (or adds) the in-memory table `public.<name>`.
pub fn set_table(ctx: &SessionContext, name: &str, batch: RecordBatch) {
    let _ = ctx.deregister_table(name);
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
    ctx.register_table(name, Arc::new(table)).unwrap();
}

/// A session over `data_dir` (no demo data) with the given in-memory
/// tables registered before the persistent state is opened.
pub async fn session(data_dir: &Path, tables: Vec<(&str, RecordBatch)>) -> Session {
    let config = Config {
        data_dir: data_dir.to_path_buf(),
        demo: None,
        ..Config::default()
    };
    session_with(&config, tables).await
}

/// [`session`] with a given configuration.
pub async fn session_with(config: &Config, tables: Vec<(&str, RecordBatch)>) -> Session {
    let ctx = crate::build_session(config, Arc::new(NoProgress))
        .await
        .unwrap();
    for (name, batch) in tables {
        set_table(&ctx, name, batch);
    }
    Session::open(ctx, config).await.unwrap()
}

/// The rows of a query, each as its values joined with `|`.
pub async fn rows(session: &Session, sql: &str) -> Vec<String> {
    let batches = session
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    format_rows(&batches)
}

/// The rows of batches, each as its values joined with `|`.
pub fn format_rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = vec![];
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out
}

/// The error of a query, planned and run.
pub async fn query_error(session: &Session, sql: &str) -> String {
    match session.sql(sql).await {
        Err(e) => e.to_string(),
        Ok(df) => match df.collect().await {
            Err(e) => e.to_string(),
            Ok(batches) => panic!("{sql} succeeded: {:?}", format_rows(&batches)),
        },
    }
}

/// The package's directory: Cargo's `CARGO_MANIFEST_DIR` of this run, which
/// is this checkout's even when a checkout sharing the target directory
/// built the binary; else the build's.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    )
}
