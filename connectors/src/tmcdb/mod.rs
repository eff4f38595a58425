//! ALMA's TMC database (TMCDB) monitor tables as sample rows (kind `tmcdb`).
//!
//! The TMCDB keeps monitor data as blocks: each `MonitorData` row holds
//! the samples of one monitor point over an interval as a text CLOB, with
//! the block's start and end time and statistics. This source shows them
//! as three tables in the configured schema:
//!
//! - `tmc_points`: monitor points with their antenna, component, assembly
//!   type (IFProc, LO2, …), units, data type and description;
//! - `tmc_samples`: one row per sample (per element for sequence-valued
//!   points), with the columns of `monitor.samples` first;
//! - `tmc_blocks`: per-block statistics (MinStat / MaxStat / MeanStat /
//!   StdDevStat) read without decoding any CLOB;
//! - `tmc_errors`: one row per malformed CLOB slot (block, byte offset,
//!   reason) of the blocks a query selects.
//!
//! Antenna, monitor point and assembly type filters (`=`, `IN`) and time
//! ranges are pushed into the remote SQL on `MonitorPoint` and on
//! `MonitorData`'s `StartTime` / `EndTime`, so only the blocks a query
//! needs are fetched and decoded. Malformed CLOB slots are skipped,
//! counted and logged with their block, offset and reason; `tmc_errors`
//! lists them all.
//!
//! The parts that do not depend on DataFusion: [`clob`] (decoding and
//! encoding MonitorClob text), [`remote_sql`] (the parameterised remote
//! SQL) and [`fetch`] (running it with `tokio-postgres`, streaming decoded
//! batches). [`udf`] is the `monitor_clob_samples` function over any column
//! of CLOBs.
//!
//! Times: ACS time (100 ns units since 1582-10-15) in the database and the
//! CLOBs; nanoseconds since the Unix epoch (`timestamptz`) here.

pub mod clob;
pub mod fetch;
pub mod remote_sql;
pub mod udf;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int16Builder, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion_table_providers_postgres::pool::PostgresConnectionPool;
use futures::StreamExt;

use crate::error::ConnectorError;
use crate::filters::PushedFilters;
use crate::postgres::PostgresOptions;
use fetch::FetchOptions;
use remote_sql::TmcdbFilter;

/// The TMCDB tables almasql reads (PostgreSQL and MySQL): MonitorPoint,
/// MonitorData and the configuration tables that name a point's antenna,
/// assembly type and component.
pub const SCHEMA_SQL: &str = include_str!("schema.sql");

/// An error reading a TMCDB. Malformed CLOB content is not an error: it is
/// counted in a [`clob::DecodeReport`].
#[derive(Debug, thiserror::Error)]
pub enum TmcdbError {
    /// The database refused or failed a query, or a column has an
    /// unexpected type.
    #[error("TMCDB query: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Building the Arrow output failed.
    #[error("TMCDB: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

/// Result type of the TMCDB source.
pub type Result<T, E = TmcdbError> = std::result::Result<T, E>;

/// Text columns whose `=` / `IN` filters reach the remote SQL.
const PUSHED_TEXT: [&str; 3] = ["antenna", "monitor_point", "assembly_type"];

/// A connected TMCDB, shared by its three tables.
struct Tmcdb {
    pool: Arc<PostgresConnectionPool>,
    options: PostgresOptions,
}

impl fmt::Debug for Tmcdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tmcdb")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Tmcdb {
    /// A pooled connection with the search path on the remote schema.
    async fn client(
        &self,
    ) -> DfResult<datafusion_table_providers_postgres::conn::PostgresConnection> {
        let conn = self
            .pool
            .connect_direct()
            .await
            .map_err(|e| self.error(format!("cannot connect: {e}")))?;
        let search_path = format!(
            "SET search_path TO \"{}\"",
            self.options.remote_schema.replace('"', "\"\"")
        );
        conn.conn
            .batch_execute(&search_path)
            .await
            .map_err(|e| self.error(e.to_string()))?;
        Ok(conn)
    }

    fn error(&self, message: String) -> DataFusionError {
        DataFusionError::External(Box::new(ConnectorError::Options {
            source_name: format!("{} (tmcdb)", self.options.schema),
            message: self.options.scrub(message),
        }))
    }
}

/// Connects to the TMCDB and returns its tables by name.
pub async fn mount(
    options: &PostgresOptions,
) -> Result<Vec<(String, Arc<dyn TableProvider>)>, ConnectorError> {
    let pool = crate::postgres::pool(options).await?;
    let db = Arc::new(Tmcdb {
        pool,
        options: options.clone(),
    });
    // fail at start-up, with the source named, when the schema is missing
    let conn = db.client().await.map_err(|e| options.error(e))?;
    conn.conn
        .query_one("SELECT count(*) FROM MonitorPoint", &[])
        .await
        .map_err(|e| options.error(format!("not a TMCDB: {e}")))?;
    tracing::info!(schema = %options.schema, host = %options.host, "mounted TMCDB");
    Ok(vec![
        (
            "tmc_points".to_string(),
            Arc::new(TmcTable::new(db.clone(), Kind::Points)) as Arc<dyn TableProvider>,
        ),
        (
            "tmc_samples".to_string(),
            Arc::new(TmcTable::new(db.clone(), Kind::Samples)),
        ),
        (
            "tmc_blocks".to_string(),
            Arc::new(TmcTable::new(db.clone(), Kind::Blocks)),
        ),
        (
            "tmc_errors".to_string(),
            Arc::new(TmcTable::new(db, Kind::Errors)),
        ),
    ])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Points,
    Samples,
    Blocks,
    Errors,
}

/// One of the three TMCDB tables.
#[derive(Debug)]
struct TmcTable {
    db: Arc<Tmcdb>,
    kind: Kind,
    schema: SchemaRef,
}

/// The columns of `tmc_samples`: those of `monitor.samples` first (with
/// nanosecond times), then what only the TMCDB knows.
pub fn samples_schema() -> SchemaRef {
    let fetched = fetch::samples_schema();
    let time = fetched
        .field_with_name("time")
        .expect("time column")
        .data_type()
        .clone();
    Arc::new(Schema::new(vec![
        Field::new("time", time, false),
        Field::new("antenna", DataType::Utf8, true),
        Field::new("device", DataType::Utf8, false),
        Field::new("monitor_point", DataType::Utf8, false),
        Field::new("polarization", DataType::Int16, true),
        Field::new("baseband", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("unit", DataType::Utf8, true),
        Field::new("assembly_type", DataType::Utf8, false),
        Field::new("component", DataType::Utf8, false),
        Field::new("index", DataType::UInt32, true),
        Field::new("value_text", DataType::Utf8, true),
    ]))
}

impl TmcTable {
    fn new(db: Arc<Tmcdb>, kind: Kind) -> Self {
        let schema = match kind {
            Kind::Points => fetch::points_schema(),
            Kind::Samples => samples_schema(),
            Kind::Blocks => fetch::block_stats_schema(),
            Kind::Errors => fetch::errors_schema(),
        };
        Self { db, kind, schema }
    }

    fn time_column(&self) -> &'static str {
        match self.kind {
            Kind::Blocks | Kind::Errors => "start_time",
            _ => "time",
        }
    }
}

/// The remote filter for the pushed-down filters.
fn tmcdb_filter(pushed: &PushedFilters, with_time: bool) -> TmcdbFilter {
    let list = |c: &str| pushed.allowed(c).map(<[String]>::to_vec);
    TmcdbFilter {
        antennas: list("antenna"),
        monitor_points: list("monitor_point"),
        assembly_types: list("assembly_type"),
        time_from_ns: with_time
            .then(|| pushed.time.from_us.and_then(|t| t.checked_mul(1000)))
            .flatten(),
        time_to_ns: with_time
            .then(|| pushed.time.to_us.and_then(|t| t.checked_mul(1000)))
            .flatten(),
        block_limit: None,
    }
}

#[async_trait]
impl TableProvider for TmcTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        let time = self.time_column();
        Ok(filters
            .iter()
            .map(|f| {
                if PushedFilters::supports(f, "\u{0}", &PUSHED_TEXT) {
                    TableProviderFilterPushDown::Exact
                } else if self.kind != Kind::Points && PushedFilters::supports(f, time, &[]) {
                    // time bounds select blocks; DataFusion re-checks them
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let pushed = PushedFilters::from_exprs(filters, self.time_column(), &PUSHED_TEXT);
        let filter = tmcdb_filter(&pushed, self.kind != Kind::Points);
        if self.kind == Kind::Points {
            let conn = self.db.client().await?;
            let batch = fetch::fetch_points(&conn.conn, &filter)
                .await
                .map_err(|e| self.db.error(e.to_string()))?;
            return MemTable::try_new(self.schema.clone(), vec![vec![batch]])?
                .scan(state, projection, &[], limit)
                .await;
        }
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let partition = Arc::new(TmcPartition {
            db: self.db.clone(),
            kind: self.kind,
            filter,
            projection: projection.cloned(),
            schema: projected.clone(),
        });
        Ok(Arc::new(StreamingTableExec::try_new(
            projected,
            vec![partition],
            None,
            vec![],
            false,
            limit,
        )?))
    }
}

/// One remote query, streamed.
#[derive(Debug)]
struct TmcPartition {
    db: Arc<Tmcdb>,
    kind: Kind,
    filter: TmcdbFilter,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
}

impl PartitionStream for TmcPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let db = self.db.clone();
        let kind = self.kind;
        let filter = self.filter.clone();
        let projection = self.projection.clone();
        let options = FetchOptions {
            batch_rows: ctx.session_config().batch_size(),
            ..FetchOptions::default()
        };
        let stream = futures::stream::once(async move {
            let conn = db.client().await?;
            let batches: futures::stream::BoxStream<'static, DfResult<RecordBatch>> = match kind {
                Kind::Samples => {
                    let samples = fetch::fetch_samples(conn.conn, &filter, &options);
                    Box::pin(ReportingSamples {
                        inner: samples,
                        source: db.options.schema.clone(),
                    })
                }
                Kind::Errors => {
                    let errors = fetch::fetch_errors(conn.conn, &filter, &options);
                    let source = db.options.schema.clone();
                    Box::pin(errors.map(move |b| {
                        b.map_err(|e| DataFusionError::External(Box::new(e)))
                            .map_err(|e| e.context(format!("source {source}")))
                    }))
                }
                _ => {
                    let blocks = fetch::fetch_block_stats(conn.conn, &filter, &options);
                    let source = db.options.schema.clone();
                    Box::pin(blocks.map(move |b| {
                        b.map_err(|e| DataFusionError::External(Box::new(e)))
                            .map_err(|e| e.context(format!("source {source}")))
                    }))
                }
            };
            let projection = projection.clone();
            DfResult::Ok(batches.map(move |b| {
                let b = if kind == Kind::Samples {
                    to_samples(&b?)?
                } else {
                    b?
                };
                match &projection {
                    Some(p) => Ok(b.project(p)?),
                    None => Ok(b),
                }
            }))
        })
        .map(|r| match r {
            Ok(s) => s.boxed(),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        })
        .flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// The samples stream; logs the malformed slots when it ends.
struct ReportingSamples {
    inner: fetch::SampleStream,
    source: String,
}

impl futures::Stream for ReportingSamples {
    type Item = DfResult<RecordBatch>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        match polled {
            std::task::Poll::Ready(None) => {
                let report = self.inner.report();
                if report.malformed > 0 {
                    tracing::warn!(
                        source = %self.source,
                        blocks = self.inner.blocks_read(),
                        malformed = report.malformed,
                        "TMCDB CLOBs with malformed samples: {}",
                        report.summary()
                    );
                }
                std::task::Poll::Ready(None)
            }
            std::task::Poll::Ready(Some(Err(e))) => {
                std::task::Poll::Ready(Some(Err(DataFusionError::External(Box::new(e))
                    .context(format!("source {}", self.source)))))
            }
            std::task::Poll::Ready(Some(Ok(b))) => std::task::Poll::Ready(Some(Ok(b))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

/// The device of a component path (`CONTROL/DA41/IFProc0` → `IFProc0`).
fn device_of(component: &str) -> &str {
    component.rsplit('/').next().unwrap_or(component)
}

/// Polarization and baseband where the device and element index give
/// them: `IFProc<p>` is polarization `p`, and the elements of its
/// sequence-valued points are basebands `BB_1` … `BB_4`.
fn channel_of(device: &str, index: Option<u32>) -> (Option<i16>, Option<String>) {
    match device
        .strip_prefix("IFProc")
        .and_then(|p| p.parse::<i16>().ok())
    {
        Some(pol) => (Some(pol), index.map(|i| format!("BB_{}", i + 1))),
        None => (None, None),
    }
}

/// Fetched sample columns → the columns of `tmc_samples`.
fn to_samples(batch: &RecordBatch) -> DfResult<RecordBatch> {
    let col = |name: &str| -> DfResult<&ArrayRef> {
        batch
            .column_by_name(name)
            .ok_or_else(|| DataFusionError::Internal(format!("TMCDB fetch lacks {name}")))
    };
    let component = col("component")?.as_string::<i32>();
    let index = col("index")?.as_primitive::<datafusion::arrow::datatypes::UInt32Type>();
    let mut device = StringBuilder::with_capacity(batch.num_rows(), batch.num_rows() * 8);
    let mut polarization = Int16Builder::with_capacity(batch.num_rows());
    let mut baseband = StringBuilder::new();
    for i in 0..batch.num_rows() {
        let d = device_of(component.value(i));
        device.append_value(d);
        let idx = index.is_valid(i).then(|| index.value(i));
        let (pol, bb) = channel_of(d, idx);
        polarization.append_option(pol);
        baseband.append_option(bb);
    }
    let device: StringArray = device.finish();
    let columns: Vec<ArrayRef> = vec![
        col("time")?.clone(),
        col("antenna")?.clone(),
        Arc::new(device),
        col("monitor_point")?.clone(),
        Arc::new(polarization.finish()),
        Arc::new(baseband.finish()),
        col("value")?.clone(),
        col("unit")?.clone(),
        col("assembly_type")?.clone(),
        col("component")?.clone(),
        col("index")?.clone(),
        col("value_text")?.clone(),
    ];
    Ok(RecordBatch::try_new(samples_schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_channels() {
        assert_eq!(device_of("CONTROL/DA41/IFProc0"), "IFProc0");
        assert_eq!(
            channel_of("IFProc1", Some(2)),
            (Some(1), Some("BB_3".to_string()))
        );
        assert_eq!(channel_of("IFProc0", None), (Some(0), None));
        assert_eq!(channel_of("LO2BBpr0", Some(0)), (None, None));
    }
}
