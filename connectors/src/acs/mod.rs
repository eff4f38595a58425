//! `logs.acs`: ACS XML log files as a table, and `logs.acs_errors`: the
//! records of those files that could not be read.
//!
//! Files are found through object_store (a directory, a glob or a URL),
//! read plain or gzipped, parsed by the streaming parser in [`format`](mod@format) (our
//! own byte scanner rather than quick-xml: it must resume after a broken
//! record, which quick-xml cannot, and it builds Arrow columns straight from
//! the input buffer at several hundred MB/s per core) and
//! scanned in parallel, one partition per group of files. Pushed down:
//! the projection (only asked columns are built), time ranges (whole files
//! are skipped by the path layout of [`crate::layout`], records inside by
//! their TimeStamp), equality and `IN` on level, host, antenna and process,
//! and LIMIT (reading stops early).

pub mod format;

use std::fmt;
use std::sync::Arc;

use arrow::array::{StringBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
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
use format::{AcsBatchReader, AcsRecordFilter, AcsScanOptions, acs_log_schema};

/// Text columns whose equality and `IN` filters the scan applies.
const PUSHED_TEXT_COLUMNS: &[&str] = &["level", "host", "antenna", "process"];

/// Options of an `acs_logs` source.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AcsLogOptions {
    /// Qualified table name, e.g. `logs.acs`; the errors table is the same
    /// name with `_errors` appended.
    pub name: String,
    /// A directory, a file, a glob (`/data/logs/**/*.xml`) or a URL
    /// (`s3://bucket/logs/`, `https://host/log.xml`).
    pub location: String,
    /// File name endings to read in a directory.
    #[serde(default = "default_extensions")]
    pub extensions: Vec<String>,
    /// Skip files whose path names an hour or day outside a query's time
    /// range (see the README's layout convention).
    #[serde(default = "default_true")]
    pub prune_by_path: bool,
}

fn default_extensions() -> Vec<String> {
    [".xml", ".xml.gz", ".log", ".log.gz"]
        .map(String::from)
        .to_vec()
}

fn default_true() -> bool {
    true
}

impl AcsLogOptions {
    /// Options for the files under `location` with the defaults.
    pub fn new(name: impl Into<String>, location: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            location: location.into(),
            extensions: default_extensions(),
            prune_by_path: true,
        }
    }
}

/// The files of an ACS log source and how to find them again.
#[derive(Debug)]
struct AcsFiles {
    options: AcsLogOptions,
    location: SourceLocation,
}

impl AcsFiles {
    fn new(options: AcsLogOptions) -> crate::Result<Self> {
        let location = SourceLocation::parse(&options.location)?;
        Ok(Self { options, location })
    }

    /// The files to read for `time`, and how many were pruned.
    async fn select(
        &self,
        state: &dyn Session,
        time: TimeRange,
    ) -> Result<(Vec<SourceFile>, usize)> {
        let extensions: Vec<&str> = self.options.extensions.iter().map(String::as_str).collect();
        let files = self
            .location
            .list(state, &extensions)
            .await
            .map_err(|e| e.in_source(&self.options.name))?;
        if !self.options.prune_by_path || !time.is_bounded() {
            return Ok((files, 0));
        }
        let before = files.len();
        let kept: Vec<SourceFile> = files
            .into_iter()
            .filter(|f| covered_interval(f.path.as_ref()).is_none_or(|(a, b)| time.overlaps(a, b)))
            .collect();
        let pruned = before - kept.len();
        Ok((kept, pruned))
    }
}

/// `logs.acs`: one row per ACS log record.
#[derive(Debug)]
pub struct AcsLogTable {
    files: AcsFiles,
    schema: SchemaRef,
}

impl AcsLogTable {
    /// A table over the log files of `options`.
    pub fn try_new(options: AcsLogOptions) -> crate::Result<Self> {
        Ok(Self {
            files: AcsFiles::new(options)?,
            schema: acs_log_schema(),
        })
    }
}

#[async_trait]
impl TableProvider for AcsLogTable {
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
        let (files, pruned) = self.files.select(state, pushed.time).await?;
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let filter = AcsRecordFilter {
            time_from_us: pushed.time.from_us,
            time_to_us: pushed.time.to_us,
            levels: pushed.allowed("level").map(<[String]>::to_vec),
            hosts: pushed.allowed("host").map(<[String]>::to_vec),
            antennas: pushed.allowed("antenna").map(<[String]>::to_vec),
            processes: pushed.allowed("process").map(<[String]>::to_vec),
        };
        let decoder = AcsRecordDecoder {
            projection: projection.cloned(),
            filter,
            batch_size: state.config().batch_size(),
            pushed,
        };
        let groups = split_into_groups(files, state.config().target_partitions());
        Ok(Arc::new(FileScanExec::new(
            "AcsLogScanExec",
            self.files.options.name.clone(),
            schema,
            groups,
            pruned,
            Arc::new(decoder),
            limit,
        )))
    }
}

/// Decodes log records of one file.
struct AcsRecordDecoder {
    projection: Option<Vec<usize>>,
    filter: AcsRecordFilter,
    batch_size: usize,
    pushed: PushedFilters,
}

impl fmt::Debug for AcsRecordDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

impl FileDecoder for AcsRecordDecoder {
    fn decode(
        &self,
        file: &SourceFile,
        reader: Box<dyn std::io::BufRead + Send>,
        limit: Option<usize>,
        metrics: &ScanMetrics,
        emit: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<()> {
        let options = AcsScanOptions {
            projection: self.projection.clone(),
            batch_size: self.batch_size,
            limit,
            filter: self.filter.clone(),
        };
        let mut records = AcsBatchReader::new(reader, &file.display, options)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut rows = 0;
        for batch in records.by_ref() {
            let batch = batch.map_err(|e| {
                DataFusionError::External(Box::new(e)).context(file.display.clone())
            })?;
            rows += batch.num_rows();
            if !emit(batch) {
                break;
            }
        }
        let read = records.records_read();
        let skipped = records.skipped();
        metrics.records_read.add(read as usize);
        metrics
            .records_filtered
            .add((read as usize).saturating_sub(rows));
        metrics
            .records_malformed
            .add(records.skipped_count() as usize);
        if let Some(first) = skipped.first() {
            tracing::warn!(
                file = %file.display,
                skipped = records.skipped_count(),
                first_offset = first.byte_offset,
                first_reason = %first.reason,
                "skipped malformed ACS log records (see the _errors table)"
            );
        }
        Ok(())
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = self.pushed.time;
        if time.is_bounded() {
            write!(f, ", time=[{:?}, {:?})", time.from_us, time.to_us)?;
        }
        for (column, values) in &self.pushed.values {
            write!(f, ", {column} IN {values:?}")?;
        }
        Ok(())
    }
}

/// `logs.acs_errors`: one row per record of the log files that could not be
/// read (file, byte offset, element, reason). Reading it parses the files.
#[derive(Debug)]
pub struct AcsErrorsTable {
    files: AcsFiles,
    schema: SchemaRef,
}

impl AcsErrorsTable {
    /// The errors table of the log files of `options`.
    pub fn try_new(options: AcsLogOptions) -> crate::Result<Self> {
        Ok(Self {
            files: AcsFiles::new(options)?,
            schema: Arc::new(Schema::new(vec![
                Field::new("source_file", DataType::Utf8, false),
                Field::new("byte_offset", DataType::UInt64, false),
                Field::new("element", DataType::Utf8, true),
                Field::new("reason", DataType::Utf8, false),
            ])),
        })
    }
}

#[async_trait]
impl TableProvider for AcsErrorsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let (files, _) = self.files.select(state, TimeRange::ALL).await?;
        let groups = split_into_groups(files, state.config().target_partitions());
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        Ok(Arc::new(FileScanExec::new(
            "AcsErrorScanExec",
            format!("{}_errors", self.files.options.name),
            schema,
            groups,
            0,
            Arc::new(AcsErrorDecoder {
                schema: self.schema.clone(),
                projection: projection.cloned(),
            }),
            limit,
        )))
    }
}

/// Reads one file and reports its skipped records.
#[derive(Debug)]
struct AcsErrorDecoder {
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
}

impl FileDecoder for AcsErrorDecoder {
    fn decode(
        &self,
        file: &SourceFile,
        reader: Box<dyn std::io::BufRead + Send>,
        _limit: Option<usize>,
        metrics: &ScanMetrics,
        emit: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<()> {
        let options = AcsScanOptions {
            projection: Some(vec![]),
            ..AcsScanOptions::default()
        };
        let mut records = AcsBatchReader::new(reader, &file.display, options)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        for batch in records.by_ref() {
            batch.map_err(|e| {
                DataFusionError::External(Box::new(e)).context(file.display.clone())
            })?;
        }
        metrics.records_read.add(records.records_read() as usize);
        let skipped = records.skipped();
        metrics
            .records_malformed
            .add(records.skipped_count() as usize);
        if skipped.is_empty() {
            return Ok(());
        }
        let mut files = StringBuilder::new();
        let mut offsets = UInt64Builder::new();
        let mut elements = StringBuilder::new();
        let mut reasons = StringBuilder::new();
        for s in skipped {
            files.append_value(&file.display);
            offsets.append_value(s.byte_offset);
            elements.append_option(s.element.as_deref());
            reasons.append_value(&s.reason);
        }
        let batch = RecordBatch::try_new(
            self.schema.clone(),
            vec![
                Arc::new(files.finish()),
                Arc::new(offsets.finish()),
                Arc::new(elements.finish()),
                Arc::new(reasons.finish()),
            ],
        )?;
        let batch = match &self.projection {
            Some(p) => batch.project(p)?,
            None => batch,
        };
        emit(batch);
        Ok(())
    }

    fn describe(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}
