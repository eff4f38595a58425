//! A scan over a source's files: one partition per group of files, each
//! decoded on a blocking thread and streamed batch by batch through a
//! bounded channel, so memory stays flat however large the files are.

use std::fmt;
use std::io::BufRead;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions,
};
use futures::StreamExt;

use crate::files::SourceFile;

/// Batches in flight per partition between the decoding thread and the
/// consumer.
const CHANNEL_DEPTH: usize = 2;

/// Counters of one partition of a scan, shown by `EXPLAIN ANALYZE`.
#[derive(Debug, Clone)]
pub struct ScanMetrics {
    /// Files opened.
    pub files_scanned: Count,
    /// Bytes of the files opened, as stored.
    pub bytes_scanned: Count,
    /// Records read (before the pushed-down filters).
    pub records_read: Count,
    /// Records dropped by pushed-down filters inside the scan.
    pub records_filtered: Count,
    /// Records that could not be parsed and were skipped.
    pub records_malformed: Count,
}

impl ScanMetrics {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        let c = |name: &'static str| MetricBuilder::new(metrics).counter(name, partition);
        Self {
            files_scanned: c("files_scanned"),
            bytes_scanned: c("bytes_scanned"),
            records_read: c("records_read"),
            records_filtered: c("records_filtered"),
            records_malformed: c("records_malformed"),
        }
    }
}

/// Turns one open file into record batches. Runs on a blocking thread.
pub trait FileDecoder: fmt::Debug + Send + Sync + 'static {
    /// Decodes `reader` (the content of `file`, decompressed), handing each
    /// batch to `emit` until it returns `false`; `limit` is the number of
    /// rows still wanted, if any.
    fn decode(
        &self,
        file: &SourceFile,
        reader: Box<dyn BufRead + Send>,
        limit: Option<usize>,
        metrics: &ScanMetrics,
        emit: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<()>;

    /// What the decoder pushes down, for `EXPLAIN`.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// Scans groups of files with a [`FileDecoder`], one partition per group.
#[derive(Debug)]
pub struct FileScanExec {
    name: &'static str,
    source: String,
    groups: Vec<Vec<SourceFile>>,
    files_pruned: usize,
    decoder: Arc<dyn FileDecoder>,
    limit: Option<usize>,
    metrics: ExecutionPlanMetricsSet,
    properties: Arc<PlanProperties>,
}

impl FileScanExec {
    /// A scan producing `schema` (already projected) from `groups`;
    /// `files_pruned` files were left out by the layout.
    pub fn new(
        name: &'static str,
        source: impl Into<String>,
        schema: SchemaRef,
        groups: Vec<Vec<SourceFile>>,
        files_pruned: usize,
        decoder: Arc<dyn FileDecoder>,
        limit: Option<usize>,
    ) -> Self {
        let groups = if groups.is_empty() {
            vec![vec![]]
        } else {
            groups
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(groups.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        let metrics = ExecutionPlanMetricsSet::new();
        MetricBuilder::new(&metrics)
            .global_counter("files_pruned")
            .add(files_pruned);
        Self {
            name,
            source: source.into(),
            groups,
            files_pruned,
            decoder,
            limit,
            metrics,
            properties,
        }
    }

    /// Number of files the scan reads.
    pub fn file_count(&self) -> usize {
        self.groups.iter().map(Vec::len).sum()
    }
}

impl DisplayAs for FileScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: source={}, files={}, files_pruned={}, partitions={}",
            self.name,
            self.source,
            self.file_count(),
            self.files_pruned,
            self.groups.len()
        )?;
        self.decoder.describe(f)?;
        if let Some(limit) = self.limit {
            write!(f, ", limit={limit}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for FileScanExec {
    fn name(&self) -> &str {
        self.name
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let files = self.groups.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("{}: no partition {partition}", self.name))
        })?;
        let schema = self.schema();
        let decoder = self.decoder.clone();
        let metrics = ScanMetrics::new(&self.metrics, partition);
        let limit = self.limit;
        let source = self.source.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(CHANNEL_DEPTH);
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut remaining = limit;
            for file in &files {
                if remaining == Some(0) {
                    break;
                }
                let reader = match file.open_blocking(&handle) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e.in_source(&source)));
                        return;
                    }
                };
                metrics.files_scanned.add(1);
                metrics.bytes_scanned.add(file.size as usize);
                let mut open = true;
                let result = decoder.decode(file, reader, remaining, &metrics, &mut |batch| {
                    if let Some(r) = remaining.as_mut() {
                        *r = r.saturating_sub(batch.num_rows());
                    }
                    open = tx.blocking_send(Ok(batch)).is_ok();
                    open && remaining != Some(0)
                });
                if let Err(e) = result {
                    let _ = tx.blocking_send(Err(e.context(format!("source {source}"))));
                    return;
                }
                if !open {
                    return;
                }
            }
        });
        let stream = tokio_stream_from(rx);
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<Result<RecordBatch>>,
) -> futures::stream::BoxStream<'static, Result<RecordBatch>> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) }).boxed()
}
