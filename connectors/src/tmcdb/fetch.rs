//! Reading a TMCDB in PostgreSQL: the monitor points, and the samples of
//! the blocks a filter selects, decoded into record batches.
//!
//! The blocks query runs through a portal in a read-only transaction
//! ([`paged_rows`]), [`PAGE_BLOCKS`] blocks per round trip, in a task that
//! owns the connection: each block is decoded as it arrives and batches of
//! at most [`FetchOptions::batch_rows`] rows are yielded; memory holds one
//! batch plus one page of blocks. Dropping the stream (a LIMIT that has its
//! rows, a cancelled query) ends the task after the page in flight, so the
//! remote server stops reading blocks too.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, Float64Builder, Int32Array, Int32Builder, Int64Array, StringArray,
    StringBuilder, TimestampNanosecondArray, TimestampNanosecondBuilder, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use std::ops::DerefMut;

use futures::{Stream, StreamExt};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use super::Result;
use super::clob::{
    ClobDecoder, DEFAULT_MAX_REPORTED, DecodeOptions, DecodeReport, PointType, ValueKind,
    acs_to_unix_ns,
};
use super::remote_sql::{
    Placeholders, RemoteQuery, SqlParam, TmcdbFilter, block_col, blocks_query, point_col,
    points_query,
};

/// Rows per record batch unless told otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// How to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// The most rows in one record batch (at least 1).
    pub batch_rows: usize,
    /// How many malformed slots the decode report describes.
    pub max_reported: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            batch_rows: DEFAULT_BATCH_ROWS,
            max_reported: DEFAULT_MAX_REPORTED,
        }
    }
}

fn utc_ns() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The columns that say which point a sample, block or error is of.
fn point_fields() -> [Field; 5] {
    [
        Field::new("monitor_point_id", DataType::Int32, false),
        Field::new("antenna", DataType::Utf8, true),
        Field::new("component", DataType::Utf8, false),
        Field::new("assembly_type", DataType::Utf8, false),
        Field::new("monitor_point", DataType::Utf8, false),
    ]
}

/// The columns of [`fetch_points`]: one row per monitor point.
pub fn points_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("monitor_point_id", DataType::Int32, false),
        Field::new("monitor_point", DataType::Utf8, false),
        Field::new("antenna", DataType::Utf8, true),
        Field::new("component", DataType::Utf8, false),
        Field::new("assembly_type", DataType::Utf8, false),
        Field::new("lru_type", DataType::Utf8, false),
        Field::new("serial_number", DataType::Utf8, false),
        Field::new("property", DataType::Utf8, false),
        Field::new("indice", DataType::Int32, false),
        Field::new("data_type", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, true),
        Field::new("description", DataType::Utf8, true),
    ]))
}

/// The columns of [`fetch_samples`]: one row per sample, or per element of
/// a sequence sample (`index` 0..; null for scalars); `value` is null and
/// `value_text` set for `string` / `clob` points.
pub fn samples_schema() -> SchemaRef {
    Arc::new(Schema::new(
        point_fields()
            .into_iter()
            .chain([
                Field::new("time", utc_ns(), false),
                Field::new("index", DataType::UInt32, true),
                Field::new("value", DataType::Float64, true),
                Field::new("value_text", DataType::Utf8, true),
                Field::new("unit", DataType::Utf8, true),
            ])
            .collect::<Vec<_>>(),
    ))
}

/// The columns of [`fetch_block_stats`]: one row per block, its times (null
/// when out of the nanosecond range), size and statistics, without
/// decoding the CLOB.
pub fn block_stats_schema() -> SchemaRef {
    Arc::new(Schema::new(
        point_fields()
            .into_iter()
            .chain([
                Field::new("start_time", utc_ns(), true),
                Field::new("end_time", utc_ns(), true),
                Field::new("sample_count", DataType::Int32, false),
                Field::new("min", DataType::Float64, true),
                Field::new("max", DataType::Float64, true),
                Field::new("mean", DataType::Float64, true),
                Field::new("stddev", DataType::Float64, true),
                Field::new("unit", DataType::Utf8, true),
            ])
            .collect::<Vec<_>>(),
    ))
}

/// The columns of [`fetch_errors`]: one row per malformed slot of a block,
/// with the block's point, its start time (null when out of the nanosecond
/// range), the slot's byte offset in the CLOB and the reason.
pub fn errors_schema() -> SchemaRef {
    Arc::new(Schema::new(
        point_fields()
            .into_iter()
            .chain([
                Field::new("start_time", utc_ns(), true),
                Field::new("byte_offset", DataType::Int64, false),
                Field::new("reason", DataType::Utf8, false),
            ])
            .collect::<Vec<_>>(),
    ))
}

fn param_ref(p: &SqlParam) -> &(dyn ToSql + Sync) {
    match p {
        SqlParam::Text(s) => s,
        SqlParam::BigInt(i) => i,
    }
}

/// Blocks fetched per round trip by [`paged_rows`] (an hour-long block of a
/// 4-baseband point at 1 Hz holds 14 400 samples).
pub const PAGE_BLOCKS: i32 = 64;

/// Rows [`paged_rows`] reads ahead of its reader.
const READ_AHEAD: usize = 8;

/// The rows of a remote query, as they arrive.
pub type Rows = Pin<Box<dyn Stream<Item = std::result::Result<Row, tokio_postgres::Error>> + Send>>;

/// Runs `query` on `client` through a portal in a read-only transaction,
/// `page_rows` rows per `Execute`, in a task of its own. The task ends when
/// the result does or the returned stream is dropped; the transaction is
/// then rolled back and the connection goes back to its pool.
pub fn paged_rows<C>(mut client: C, query: RemoteQuery, page_rows: i32) -> Rows
where
    C: DerefMut<Target = Client> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let run = async {
            let transaction = client.build_transaction().read_only(true).start().await?;
            let params: Vec<&(dyn ToSql + Sync)> = query.params.iter().map(param_ref).collect();
            let portal = transaction.bind(query.sql.as_str(), &params).await?;
            loop {
                let page = transaction.query_portal_raw(&portal, page_rows).await?;
                let mut page = std::pin::pin!(page);
                let mut received = 0;
                while let Some(row) = page.next().await {
                    received += 1;
                    if tx.send(row).await.is_err() {
                        // the reader is gone: stop here
                        return Ok(());
                    }
                }
                if received < page_rows {
                    return Ok(());
                }
            }
        };
        let outcome: std::result::Result<(), tokio_postgres::Error> = run.await;
        if let Err(e) = outcome {
            let _ = tx.send(Err(e)).await;
        }
    });
    Box::pin(tokio_stream_from(rx))
}

/// A stream of what `rx` receives.
fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|t| (t, rx)) })
}

/// The monitor points the filter selects (antenna, point name, assembly
/// type; the time range and limit do not apply), ordered by id.
pub async fn fetch_points(client: &Client, filter: &TmcdbFilter) -> Result<RecordBatch> {
    let query = points_query(filter, Placeholders::Dollar);
    let params: Vec<&(dyn ToSql + Sync)> = query.params.iter().map(param_ref).collect();
    let rows = client.query(query.sql.as_str(), &params).await?;
    let n = rows.len();
    let mut id = Int32Builder::with_capacity(n);
    let mut text: Vec<StringBuilder> = (0..9).map(|_| StringBuilder::new()).collect();
    let mut indice = Int32Builder::with_capacity(n);
    for row in &rows {
        id.append_value(row.try_get(point_col::MONITOR_POINT_ID)?);
        let columns = [
            point_col::MONITOR_POINT,
            point_col::ANTENNA,
            point_col::ASSEMBLY_TYPE,
            point_col::LRU_TYPE,
            point_col::SERIAL_NUMBER,
            point_col::PROPERTY,
            point_col::DATA_TYPE,
            point_col::UNITS,
            point_col::DESCRIPTION,
        ];
        for (builder, column) in text.iter_mut().zip(columns) {
            builder.append_option(row.try_get::<_, Option<&str>>(column)?);
        }
        indice.append_value(row.try_get(point_col::INDICE)?);
    }
    let mut component = StringBuilder::with_capacity(n, n * 24);
    for row in &rows {
        append_component(&mut component, row)?;
    }
    let mut t = text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef);
    let mut next = || t.next().expect("nine text columns");
    let (point, antenna, assembly, lru, serial, property, data_type, unit, description) = (
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        point,
        antenna,
        Arc::new(component.finish()),
        assembly,
        lru,
        serial,
        property,
        Arc::new(indice.finish()),
        data_type,
        unit,
        description,
    ];
    Ok(RecordBatch::try_new(points_schema(), columns)?)
}

/// Appends `Path/ComponentName` of a row of the points or blocks query.
fn append_component(builder: &mut StringBuilder, row: &Row) -> Result<()> {
    let path: &str = row.try_get(point_col::COMPONENT_PATH)?;
    let name: &str = row.try_get(point_col::COMPONENT_NAME)?;
    let _ = write!(builder, "{}/{name}", path.trim_end_matches('/'));
    builder.append_value("");
    Ok(())
}

/// The per-block point columns shared by samples and block statistics.
#[derive(Debug)]
struct BlockPoints {
    id: Int32Builder,
    antenna: StringBuilder,
    component: StringBuilder,
    assembly_type: StringBuilder,
    monitor_point: StringBuilder,
    unit: StringBuilder,
}

impl BlockPoints {
    fn new() -> Self {
        Self {
            id: Int32Builder::new(),
            antenna: StringBuilder::new(),
            component: StringBuilder::new(),
            assembly_type: StringBuilder::new(),
            monitor_point: StringBuilder::new(),
            unit: StringBuilder::new(),
        }
    }

    fn append(&mut self, row: &Row) -> Result<()> {
        self.id
            .append_value(row.try_get(point_col::MONITOR_POINT_ID)?);
        self.antenna
            .append_option(row.try_get::<_, Option<&str>>(point_col::ANTENNA)?);
        append_component(&mut self.component, row)?;
        self.assembly_type
            .append_value(row.try_get::<_, &str>(point_col::ASSEMBLY_TYPE)?);
        self.monitor_point
            .append_value(row.try_get::<_, &str>(point_col::MONITOR_POINT)?);
        self.unit
            .append_option(row.try_get::<_, Option<&str>>(point_col::UNITS)?);
        Ok(())
    }

    /// (id, antenna, component, assembly_type, monitor_point, unit).
    fn finish(&mut self) -> (Int32Array, [StringArray; 5]) {
        (
            self.id.finish(),
            [
                self.antenna.finish(),
                self.component.finish(),
                self.assembly_type.finish(),
                self.monitor_point.finish(),
                self.unit.finish(),
            ],
        )
    }
}

/// Splits `batch` into slices of at most `rows` rows onto `ready`.
fn push_slices(ready: &mut VecDeque<RecordBatch>, batch: RecordBatch, rows: usize) {
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = rows.min(batch.num_rows() - offset);
        ready.push_back(batch.slice(offset, len));
        offset += len;
    }
}

/// Decoded samples of the blocks a filter selects, as a stream of record
/// batches of [`samples_schema`], in block order (point id, start time).
/// Samples outside the filter's time range are dropped, so the time filter
/// is exact; malformed slots are skipped and counted in
/// [`SampleStream::report`].
pub struct SampleStream {
    rows: Rows,
    decoder: ClobDecoder,
    points: BlockPoints,
    /// Blocks since the last flush: the `block` label of the next one.
    pending_blocks: u32,
    batch_rows: usize,
    ready: VecDeque<RecordBatch>,
    done: bool,
    blocks_read: u64,
    schema: SchemaRef,
    /// For [`fetch_errors`]: the start time of each block since the last
    /// flush; the stream then yields the malformed slots, not the samples.
    error_starts: Option<TimestampNanosecondBuilder>,
}

impl std::fmt::Debug for SampleStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleStream")
            .field("batch_rows", &self.batch_rows)
            .field("blocks_read", &self.blocks_read)
            .field("report", self.decoder.report())
            .finish_non_exhaustive()
    }
}

/// Runs the blocks query for `filter` on `client` (see [`paged_rows`]) and
/// returns the stream of its decoded samples.
pub fn fetch_samples<C>(client: C, filter: &TmcdbFilter, options: &FetchOptions) -> SampleStream
where
    C: DerefMut<Target = Client> + Send + 'static,
{
    let query = blocks_query(filter, true, Placeholders::Dollar);
    let rows = paged_rows(client, query, PAGE_BLOCKS);
    let batch_rows = options.batch_rows.max(1);
    let decode = DecodeOptions {
        max_reported: options.max_reported,
        time_from_ns: filter.time_from_ns,
        time_to_ns: filter.time_to_ns,
    };
    SampleStream {
        rows,
        decoder: ClobDecoder::with_capacity(decode, batch_rows + batch_rows / 4),
        points: BlockPoints::new(),
        pending_blocks: 0,
        batch_rows,
        ready: VecDeque::new(),
        done: false,
        blocks_read: 0,
        schema: samples_schema(),
        error_starts: None,
    }
}

/// Runs the blocks query for `filter` on `client` like [`fetch_samples`]
/// and returns the stream of every malformed slot of the blocks (see
/// [`errors_schema`]). The time filter selects overlapping blocks; all
/// their slots are checked.
pub fn fetch_errors<C>(client: C, filter: &TmcdbFilter, options: &FetchOptions) -> SampleStream
where
    C: DerefMut<Target = Client> + Send + 'static,
{
    let mut stream = fetch_samples(client, filter, options);
    stream.decoder = ClobDecoder::with_capacity(
        DecodeOptions {
            max_reported: usize::MAX,
            time_from_ns: None,
            time_to_ns: None,
        },
        stream.batch_rows,
    );
    stream.schema = errors_schema();
    stream.error_starts = Some(TimestampNanosecondBuilder::new());
    stream
}

impl SampleStream {
    /// What the decoding skipped so far.
    pub fn report(&self) -> &DecodeReport {
        self.decoder.report()
    }

    /// Blocks (MonitorData rows) received so far.
    pub fn blocks_read(&self) -> u64 {
        self.blocks_read
    }

    fn push_row(&mut self, row: &Row) -> Result<()> {
        self.blocks_read += 1;
        let data_type: &str = row.try_get(point_col::DATA_TYPE)?;
        // An unknown type is kept as text: nothing is lost.
        let point_type = PointType::parse(data_type).unwrap_or(PointType::auto(ValueKind::String));
        let clob: Option<&str> = row.try_get(block_col::CLOB)?;
        self.points.append(row)?;
        if let Some(starts) = &mut self.error_starts {
            starts.append_option(acs_to_unix_ns(row.try_get(block_col::START_TIME)?));
        }
        self.decoder
            .decode_block(self.pending_blocks, clob, point_type);
        self.pending_blocks += 1;
        if self.decoder.len() >= self.batch_rows || self.pending_blocks == u32::MAX {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let samples = self.decoder.finish();
        let (id, [antenna, component, assembly_type, monitor_point, unit]) = self.points.finish();
        self.pending_blocks = 0;
        if let Some(starts) = &mut self.error_starts {
            let starts = starts.finish();
            let report = self.decoder.take_report();
            if report.examples.is_empty() {
                return Ok(());
            }
            let block: UInt32Array = report.examples.iter().map(|e| e.block).collect();
            let offsets: Int64Array = report.examples.iter().map(|e| e.offset as i64).collect();
            let reasons: StringArray = report
                .examples
                .iter()
                .map(|e| Some(e.reason.to_string()))
                .collect();
            let columns: Vec<ArrayRef> = vec![
                take(&id, &block, None)?,
                take(&antenna, &block, None)?,
                take(&component, &block, None)?,
                take(&assembly_type, &block, None)?,
                take(&monitor_point, &block, None)?,
                take(&starts.with_timezone("UTC"), &block, None)?,
                Arc::new(offsets),
                Arc::new(reasons),
            ];
            let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
            push_slices(&mut self.ready, batch, self.batch_rows);
            return Ok(());
        }
        if samples.is_empty() {
            return Ok(());
        }
        let block: &UInt32Array = &samples.block;
        let time =
            TimestampNanosecondArray::new(samples.time.values().clone(), None).with_timezone("UTC");
        let columns: Vec<ArrayRef> = vec![
            take(&id, block, None)?,
            take(&antenna, block, None)?,
            take(&component, block, None)?,
            take(&assembly_type, block, None)?,
            take(&monitor_point, block, None)?,
            Arc::new(time),
            Arc::new(samples.index),
            Arc::new(samples.value),
            Arc::new(samples.value_text),
            take(&unit, block, None)?,
        ];
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        push_slices(&mut self.ready, batch, self.batch_rows);
        Ok(())
    }
}

impl Stream for SampleStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(batch) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(batch)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let step = match this.rows.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(row))) => this.push_row(&row),
                Poll::Ready(Some(Err(e))) => Err(e.into()),
                Poll::Ready(None) => {
                    this.done = true;
                    this.flush()
                }
            };
            if let Err(e) = step {
                this.done = true;
                this.ready.clear();
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

/// Block statistics (`MinStat`, `MaxStat`, `MeanStat`, `StdDevStat`) of
/// the blocks a filter selects, without their CLOBs, as a stream of record
/// batches of [`block_stats_schema`].
pub struct BlockStatsStream {
    rows: Rows,
    points: BlockPoints,
    start: TimestampNanosecondBuilder,
    end: TimestampNanosecondBuilder,
    count: Int32Builder,
    stats: [Float64Builder; 4],
    batch_rows: usize,
    done: bool,
    schema: SchemaRef,
}

impl std::fmt::Debug for BlockStatsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockStatsStream")
            .field("batch_rows", &self.batch_rows)
            .finish_non_exhaustive()
    }
}

/// Runs the blocks query for `filter` without CLOBs on `client` (see
/// [`paged_rows`]) and returns the stream of block statistics. The time
/// filter selects overlapping blocks.
pub fn fetch_block_stats<C>(
    client: C,
    filter: &TmcdbFilter,
    options: &FetchOptions,
) -> BlockStatsStream
where
    C: DerefMut<Target = Client> + Send + 'static,
{
    let query = blocks_query(filter, false, Placeholders::Dollar);
    let rows = paged_rows(client, query, PAGE_BLOCKS);
    BlockStatsStream {
        rows,
        points: BlockPoints::new(),
        start: TimestampNanosecondBuilder::new(),
        end: TimestampNanosecondBuilder::new(),
        count: Int32Builder::new(),
        stats: std::array::from_fn(|_| Float64Builder::new()),
        batch_rows: options.batch_rows.max(1),
        done: false,
        schema: block_stats_schema(),
    }
}

impl BlockStatsStream {
    fn push_row(&mut self, row: &Row) -> Result<()> {
        self.points.append(row)?;
        let start: i64 = row.try_get(block_col::START_TIME)?;
        let end: i64 = row.try_get(block_col::END_TIME)?;
        self.start.append_option(acs_to_unix_ns(start));
        self.end.append_option(acs_to_unix_ns(end));
        self.count
            .append_value(row.try_get(block_col::SAMPLE_SIZE)?);
        let columns = [
            block_col::MIN_STAT,
            block_col::MAX_STAT,
            block_col::MEAN_STAT,
            block_col::STD_DEV_STAT,
        ];
        for (builder, column) in self.stats.iter_mut().zip(columns) {
            builder.append_option(row.try_get::<_, Option<f64>>(column)?);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<Option<RecordBatch>> {
        if self.count.len() == 0 {
            return Ok(None);
        }
        let (id, [antenna, component, assembly_type, monitor_point, unit]) = self.points.finish();
        let [min, max, mean, stddev] = &mut self.stats;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(id),
            Arc::new(antenna),
            Arc::new(component),
            Arc::new(assembly_type),
            Arc::new(monitor_point),
            Arc::new(self.start.finish().with_timezone("UTC")),
            Arc::new(self.end.finish().with_timezone("UTC")),
            Arc::new(self.count.finish()),
            Arc::new(min.finish()),
            Arc::new(max.finish()),
            Arc::new(mean.finish()),
            Arc::new(stddev.finish()),
            Arc::new(unit),
        ];
        Ok(Some(RecordBatch::try_new(self.schema.clone(), columns)?))
    }
}

impl Stream for BlockStatsStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            let step = match this.rows.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(row))) => match this.push_row(&row) {
                    Ok(()) if this.count.len() >= this.batch_rows => this.flush(),
                    Ok(()) => continue,
                    Err(e) => Err(e),
                },
                Poll::Ready(Some(Err(e))) => Err(e.into()),
                Poll::Ready(None) => {
                    this.done = true;
                    this.flush()
                }
            };
            return match step {
                Ok(Some(batch)) => Poll::Ready(Some(Ok(batch))),
                Ok(None) => Poll::Ready(None),
                Err(e) => {
                    this.done = true;
                    Poll::Ready(Some(Err(e)))
                }
            };
        }
    }
}
