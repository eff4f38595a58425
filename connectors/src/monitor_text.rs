//! `monitor.text_samples`: monitor text files, as ALMA's text-monitor
//! retrieval writes them, with the columns of `monitor.samples`.
//!
//! Layout: one file per antenna, device and monitor point per UTC day,
//!
//! ```text
//! <root>/<YYYY-MM-DD>/<antenna>/<device>/<MONITOR_POINT>.txt[.gz]
//! ```
//!
//! where an antenna directory named `-` holds site-wide points (antenna
//! NULL). Each line is an ISO-8601 UTC timestamp and one or more values,
//! separated by blanks; `#` starts a comment, and a `# unit: <unit>` line
//! sets the unit of the values below it:
//!
//! ```text
//! # unit: V
//! 2026-01-01T00:00:00.000 1.20312 1.19874 0.98211 1.40021
//! 2026-01-01T00:01:00.000 1.20309 1.19880 0.98190 1.40017
//! ```
//!
//! A line with several values gives one row per value: value *i* is
//! baseband `BB_<i>`; an `IFProc<N>` device gives polarization N. Lines that
//! cannot be read are counted (`records_malformed` in `EXPLAIN ANALYZE`) and
//! logged once per file, never fatal. Pushed down: antenna, device and
//! monitor point equality (by path), time ranges (by the date directory and
//! per line), projection and LIMIT.

use std::fmt;
use std::io::BufRead;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int16Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use serde::Deserialize;

use crate::files::{SourceFile, SourceLocation, split_into_groups};
use crate::filters::{PushedFilters, TimeRange};
use crate::layout::covered_interval;
use crate::scan::{FileDecoder, FileScanExec, ScanMetrics};

const PUSHED_TEXT_COLUMNS: &[&str] = &["antenna", "device", "monitor_point"];
const BASEBANDS: [&str; 4] = ["BB_1", "BB_2", "BB_3", "BB_4"];

/// Options of a `monitor_text` source.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitorTextOptions {
    /// Qualified table name, e.g. `monitor.text_samples`.
    pub name: String,
    /// The root directory (local path or URL) of the layout above.
    pub location: String,
}

/// The schema of `monitor.samples` and `monitor.text_samples`.
pub fn samples_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("antenna", DataType::Utf8, true),
        Field::new("device", DataType::Utf8, false),
        Field::new("monitor_point", DataType::Utf8, false),
        Field::new("polarization", DataType::Int16, true),
        Field::new("baseband", DataType::Utf8, true),
        Field::new("value", DataType::Float64, false),
        Field::new("unit", DataType::Utf8, true),
    ]))
}

/// What a file's path says about its rows.
#[derive(Debug, Clone, PartialEq)]
struct PathKeys {
    antenna: Option<String>,
    device: String,
    monitor_point: String,
}

impl PathKeys {
    /// Reads `.../<date>/<antenna>/<device>/<POINT>.txt[.gz]`.
    fn parse(path: &str) -> Option<Self> {
        let mut parts = path.rsplit('/');
        let file = parts.next()?;
        let device = parts.next()?;
        let antenna = parts.next()?;
        let point = file
            .strip_suffix(".gz")
            .unwrap_or(file)
            .strip_suffix(".txt")?;
        Some(Self {
            antenna: (antenna != "-").then(|| antenna.to_string()),
            device: device.to_string(),
            monitor_point: point.to_string(),
        })
    }

    fn matches(&self, pushed: &PushedFilters) -> bool {
        let ok = |column: &str, value: Option<&str>| match pushed.allowed(column) {
            None => true,
            Some(allowed) => value.is_some_and(|v| allowed.iter().any(|a| a == v)),
        };
        ok("antenna", self.antenna.as_deref())
            && ok("device", Some(&self.device))
            && ok("monitor_point", Some(&self.monitor_point))
    }
}

/// `monitor.text_samples`: one row per value of the monitor text files.
#[derive(Debug)]
pub struct MonitorTextTable {
    options: MonitorTextOptions,
    location: SourceLocation,
    schema: SchemaRef,
}

impl MonitorTextTable {
    /// A table over the text files under `options.location`.
    pub fn try_new(options: MonitorTextOptions) -> crate::Result<Self> {
        let location = SourceLocation::parse(&options.location)?;
        Ok(Self {
            options,
            location,
            schema: samples_schema(),
        })
    }
}

#[async_trait]
impl TableProvider for MonitorTextTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if PushedFilters::supports(f, "time", PUSHED_TEXT_COLUMNS) {
                    TableProviderFilterPushDown::Exact
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
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let pushed = PushedFilters::from_exprs(filters, "time", PUSHED_TEXT_COLUMNS);
        let files = self
            .location
            .list(state, &[".txt", ".txt.gz"])
            .await
            .map_err(|e| e.in_source(&self.options.name))?;
        let total = files.len();
        let kept: Vec<SourceFile> = files
            .into_iter()
            .filter(|f| {
                let path = f.path.as_ref();
                PathKeys::parse(path).is_some_and(|k| k.matches(&pushed))
                    && covered_interval(path).is_none_or(|(a, b)| pushed.time.overlaps(a, b))
            })
            .collect();
        let pruned = total - kept.len();
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let decoder = TextDecoder {
            projection: projection
                .cloned()
                .unwrap_or_else(|| (0..self.schema.fields().len()).collect()),
            schema: schema.clone(),
            time: pushed.time,
            batch_size: state.config().batch_size(),
        };
        Ok(Arc::new(FileScanExec::new(
            "MonitorTextScanExec",
            self.options.name.clone(),
            schema,
            split_into_groups(kept, state.config().target_partitions()),
            pruned,
            Arc::new(decoder),
            limit,
        )))
    }
}

/// Reads the lines of one text file into batches.
struct TextDecoder {
    projection: Vec<usize>,
    schema: SchemaRef,
    time: TimeRange,
    batch_size: usize,
}

impl fmt::Debug for TextDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

/// Column builders of one batch.
struct Builders {
    time: TimestampMicrosecondBuilder,
    antenna: StringBuilder,
    device: StringBuilder,
    point: StringBuilder,
    polarization: Int16Builder,
    baseband: StringBuilder,
    value: Float64Builder,
    unit: StringBuilder,
    rows: usize,
}

impl Builders {
    fn new() -> Self {
        Self {
            time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            antenna: StringBuilder::new(),
            device: StringBuilder::new(),
            point: StringBuilder::new(),
            polarization: Int16Builder::new(),
            baseband: StringBuilder::new(),
            value: Float64Builder::new(),
            unit: StringBuilder::new(),
            rows: 0,
        }
    }

    fn finish(&mut self, schema: &SchemaRef, projection: &[usize]) -> Result<RecordBatch> {
        let all: [ArrayRef; 8] = [
            Arc::new(self.time.finish()),
            Arc::new(self.antenna.finish()),
            Arc::new(self.device.finish()),
            Arc::new(self.point.finish()),
            Arc::new(self.polarization.finish()),
            Arc::new(self.baseband.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.unit.finish()),
        ];
        let rows = std::mem::take(&mut self.rows);
        let columns = projection.iter().map(|&i| all[i].clone()).collect();
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }
}

impl FileDecoder for TextDecoder {
    fn decode(
        &self,
        file: &SourceFile,
        reader: Box<dyn BufRead + Send>,
        limit: Option<usize>,
        metrics: &ScanMetrics,
        emit: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<()> {
        let keys = PathKeys::parse(file.path.as_ref()).ok_or_else(|| {
            DataFusionError::Execution(format!(
                "{}: not <antenna>/<device>/<POINT>.txt",
                file.display
            ))
        })?;
        let polarization = keys
            .device
            .strip_prefix("IFProc")
            .and_then(|p| p.parse::<i16>().ok());
        let mut b = Builders::new();
        let mut unit: Option<String> = None;
        let mut malformed = 0usize;
        let mut first_bad: Option<(usize, String)> = None;
        let mut produced = 0usize;
        let (mut read, mut filtered) = (0usize, 0usize);
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| {
                DataFusionError::External(Box::new(e)).context(file.display.clone())
            })?;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(u) = comment.trim().strip_prefix("unit:") {
                    unit = Some(u.trim().to_string());
                }
                continue;
            }
            read += 1;
            let mut fields = line.split_whitespace();
            let parsed = fields.next().and_then(parse_time).and_then(|t| {
                let values: Option<Vec<f64>> = fields.map(|v| v.parse::<f64>().ok()).collect();
                values.filter(|v| !v.is_empty()).map(|v| (t, v))
            });
            let Some((t, values)) = parsed else {
                malformed += 1;
                first_bad.get_or_insert((n + 1, line.chars().take(80).collect()));
                continue;
            };
            if !self.time.contains(t) {
                filtered += 1;
                continue;
            }
            let many = values.len() > 1;
            for (i, v) in values.iter().enumerate() {
                b.time.append_value(t);
                b.antenna.append_option(keys.antenna.as_deref());
                b.device.append_value(&keys.device);
                b.point.append_value(&keys.monitor_point);
                b.polarization.append_option(polarization);
                b.baseband
                    .append_option(many.then(|| BASEBANDS.get(i).copied().unwrap_or("BB_?")));
                b.value.append_value(*v);
                b.unit.append_option(unit.as_deref());
                b.rows += 1;
            }
            if b.rows >= self.batch_size || limit.is_some_and(|l| produced + b.rows >= l) {
                produced += b.rows;
                let done = limit.is_some_and(|l| produced >= l);
                if !emit(b.finish(&self.schema, &self.projection)?) || done {
                    break;
                }
            }
        }
        if b.rows > 0 {
            emit(b.finish(&self.schema, &self.projection)?);
        }
        metrics.records_read.add(read);
        metrics.records_filtered.add(filtered);
        metrics.records_malformed.add(malformed);
        if let Some((line, text)) = first_bad {
            tracing::warn!(file = %file.display, malformed, first_line = line, first = %text,
                "skipped unreadable monitor text lines");
        }
        Ok(())
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.time.is_bounded() {
            write!(f, ", time=[{:?}, {:?})", self.time.from_us, self.time.to_us)?;
        }
        Ok(())
    }
}

/// An ISO-8601 UTC timestamp (`Z` optional), in microseconds.
fn parse_time(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_from_paths() {
        assert_eq!(
            PathKeys::parse("root/2026-01-01/DV07/IFProc0/TOTAL_POWER.txt"),
            Some(PathKeys {
                antenna: Some("DV07".into()),
                device: "IFProc0".into(),
                monitor_point: "TOTAL_POWER".into()
            })
        );
        assert_eq!(
            PathKeys::parse("2026-01-01/-/MeteoCentral/PRESSURE.txt.gz")
                .unwrap()
                .antenna,
            None
        );
        assert_eq!(PathKeys::parse("x/y.csv"), None);
    }
}
