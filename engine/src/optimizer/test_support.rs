//! A table of timestamps in three zones, for the rewrites' tests.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

/// Instants around Chile's clock change of 2026-09-06 (00:00 local becomes
/// 01:00) and a few others, in µs since the epoch.
const INSTANTS: [i64; 5] = [
    1_788_710_400_000_000, // 2026-09-06T16:00:00Z, 13:00 local (UTC-3) after the change
    1_788_667_200_000_000, // 2026-09-06T04:00:00Z
    1_767_225_600_000_000, // 2026-01-01T00:00:00Z
    1_767_225_600_123_456, // with microseconds
    1_798_761_599_999_999, // 2026-12-31T23:59:59.999999Z
];

/// A session with table `t(utc, chile, naive)`: the same instants as
/// `Timestamp(µs, "UTC")`, `Timestamp(µs, "America/Santiago")` and
/// `Timestamp(µs)`; with almasql's rewrites or without.
pub fn context(with_rewrites: bool) -> SessionContext {
    let ctx = SessionContext::new();
    if with_rewrites {
        super::register(&ctx);
    }
    let zone = |z: Option<&str>| DataType::Timestamp(TimeUnit::Microsecond, z.map(Into::into));
    let schema = Arc::new(Schema::new(vec![
        Field::new("utc", zone(Some("UTC")), true),
        Field::new("chile", zone(Some("America/Santiago")), true),
        Field::new("naive", zone(None), true),
    ]));
    let column = || TimestampMicrosecondArray::from(INSTANTS.to_vec());
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(column().with_timezone("UTC")),
            Arc::new(column().with_timezone("America/Santiago")),
            Arc::new(column()),
        ],
    )
    .unwrap();
    let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
    ctx.register_table("t", Arc::new(table)).unwrap();
    ctx
}

/// The result of `sql` as a pretty-printed table (names and values).
pub async fn run(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// The optimized logical plan of `sql`, indented.
pub async fn optimized_plan(ctx: &SessionContext, sql: &str) -> String {
    let df = ctx.sql(sql).await.unwrap();
    let plan = ctx.state().optimize(df.logical_plan()).unwrap();
    plan.display_indent().to_string()
}
