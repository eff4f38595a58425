//! Joins whose work comes in short polls, so that a cancel stops them.
//!
//! A cancelled query (a client's cancel request, `statement_timeout`) stops
//! when its stream is dropped: the tasks running it are aborted, which
//! tokio can do only when a task's `poll` returns. DataFusion's
//! `NestedLoopJoinExec` joins one probe (right) batch with every buffered
//! build row inside one `poll_next`, and returns only once it has a batch
//! of output: with a filter that rarely matches and a large build side
//! (3 M rows × 8 192 probe rows is 25 G pairs) one poll runs for many
//! seconds, holding a worker thread, and a cancel waits for it. On 2 cores
//! two such queries stalled the whole server: it accepted no connection
//! until they ended. `CrossJoinExec` returns output often, but its
//! consumer keeps polling it in the same task without ever yielding.
//!
//! [`ShortPolls`] feeds a nested-loop join its probe side in slices of
//! about [`PAIRS_PER_SLICE`] pairs with the build side, and yields to the
//! runtime before each slice; above a cross join it yields before each
//! output batch. A yield costs a task wake-up (about a microsecond), small
//! against a slice of millions of pairs.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Result;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::{CrossJoinExec, NestedLoopJoinExec};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, StatisticsArgs, StatisticsContext,
};
use futures::{Stream, StreamExt};

/// Build × probe pairs a nested-loop join evaluates between two yields:
/// a few milliseconds of work.
pub const PAIRS_PER_SLICE: usize = 4 << 20;

/// The build side's size assumed when its statistics give none.
const UNKNOWN_BUILD_ROWS: usize = 1 << 20;

/// The physical optimizer rule that puts [`YieldingExec`] into joins.
#[derive(Debug, Default)]
pub struct ShortPolls;

impl PhysicalOptimizerRule for ShortPolls {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch_size = usize::from(config.execution.batch_size);
        plan.transform_up(|node| {
            if let Some(join) = node.downcast_ref::<NestedLoopJoinExec>() {
                let build = StatisticsContext::new()
                    .compute(join.left().as_ref(), &StatisticsArgs::new())?;
                let build_rows = match build.num_rows {
                    Precision::Exact(n) | Precision::Inexact(n) => n,
                    Precision::Absent => UNKNOWN_BUILD_ROWS,
                };
                let slice = (PAIRS_PER_SLICE / build_rows.max(1)).clamp(1, batch_size);
                if build_rows.saturating_mul(batch_size) <= PAIRS_PER_SLICE {
                    return Ok(Transformed::no(node));
                }
                let probe = Arc::new(YieldingExec::new(join.right().clone(), slice));
                let left = join.left().clone();
                let options = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
                return Ok(Transformed::yes(
                    node.replace_children(vec![left, probe], options)?,
                ));
            }
            if node.downcast_ref::<CrossJoinExec>().is_some() {
                let wrapped: Arc<dyn ExecutionPlan> = Arc::new(YieldingExec::new(node, batch_size));
                return Ok(Transformed::yes(wrapped));
            }
            Ok(Transformed::no(node))
        })
        .data()
    }

    fn name(&self) -> &str {
        "short_polls"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Passes its input's batches on in slices of at most `slice_rows` rows,
/// yielding to the runtime before each slice.
#[derive(Debug)]
pub struct YieldingExec {
    input: Arc<dyn ExecutionPlan>,
    slice_rows: usize,
    properties: Arc<PlanProperties>,
}

impl YieldingExec {
    /// Wraps `input`, slicing its batches to `slice_rows` rows (at least 1).
    pub fn new(input: Arc<dyn ExecutionPlan>, slice_rows: usize) -> Self {
        let properties = input.properties().clone();
        Self {
            input,
            slice_rows: slice_rows.max(1),
            properties,
        }
    }
}

impl DisplayAs for YieldingExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "YieldingExec: slice_rows={}", self.slice_rows)
    }
}

impl ExecutionPlan for YieldingExec {
    fn name(&self) -> &str {
        "YieldingExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children.swap_remove(0);
        Ok(Arc::new(match options.children_properties {
            ChildrenPropertiesMode::Keep => Self {
                input,
                slice_rows: self.slice_rows,
                properties: self.properties.clone(),
            },
            ChildrenPropertiesMode::Recompute => Self::new(input, self.slice_rows),
        }))
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

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(YieldingStream {
            input: self.input.execute(partition, context)?,
            slice_rows: self.slice_rows,
            pending: None,
            yielded: false,
        }))
    }
}

struct YieldingStream {
    input: SendableRecordBatchStream,
    slice_rows: usize,
    /// The rest of the batch being sliced, and where the next slice starts.
    pending: Option<(RecordBatch, usize)>,
    /// Whether this poll follows a yield.
    yielded: bool,
}

impl Stream for YieldingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.pending.is_none() {
            match self.input.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(batch))) => self.pending = Some((batch, 0)),
                other => return other,
            }
        }
        self.yielded = false;
        let slice_rows = self.slice_rows;
        let (batch, offset) = self.pending.take().expect("a batch to slice");
        let rows = slice_rows.min(batch.num_rows() - offset);
        let slice = batch.slice(offset, rows);
        if offset + rows < batch.num_rows() {
            self.pending = Some((batch, offset + rows));
        }
        Poll::Ready(Some(Ok(slice)))
    }
}

impl RecordBatchStream for YieldingStream {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.input.schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;

    fn table(name: &str, rows: i64) -> Arc<MemTable> {
        let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(0..rows))],
        )
        .unwrap();
        Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())
    }

    fn context() -> SessionContext {
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(ShortPolls))
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_table("t", table("x", 20_000)).unwrap();
        ctx.register_table("u", table("y", 20_000)).unwrap();
        ctx
    }

    #[tokio::test]
    async fn a_nested_loop_join_with_a_large_build_side_probes_in_slices() {
        let ctx = context();
        let df = ctx
            .sql("select count(*) from t, u where t.x + u.y < 10")
            .await
            .unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        assert!(shown.contains("NestedLoopJoinExec"), "{shown}");
        // 4 Mi pairs / 20 000 build rows
        assert!(shown.contains("YieldingExec: slice_rows=209"), "{shown}");
        let batches = collect(plan, ctx.task_ctx()).await.unwrap();
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        // pairs (x, y) with x + y < 10
        assert_eq!(n, 55);
    }

    #[tokio::test]
    async fn a_cross_join_yields_between_batches_and_small_joins_are_left_alone() {
        let ctx = context();
        ctx.register_table("small", table("z", 10)).unwrap();
        let plan = ctx
            .sql("select max(x + y) from t cross join u")
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        assert!(shown.contains("YieldingExec"), "{shown}");
        let plan = ctx
            .sql("select count(*) from small a, small b where a.z < b.z")
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        assert!(!shown.contains("YieldingExec"), "{shown}");
    }

    #[test]
    fn the_stream_yields_before_every_slice() {
        let ctx = SessionContext::new();
        let input = datafusion::physical_plan::test::TestMemoryExec::try_new_exec(
            &[vec![
                RecordBatch::try_new(
                    Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
                    vec![Arc::new(Int64Array::from_iter_values(0..1000))],
                )
                .unwrap(),
            ]],
            Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
            None,
        )
        .unwrap();
        let exec = YieldingExec::new(input, 300);
        let mut stream = exec.execute(0, ctx.task_ctx()).unwrap();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut seen = vec![];
        loop {
            assert!(
                stream.poll_next_unpin(&mut cx).is_pending(),
                "a yield first"
            );
            match stream.poll_next_unpin(&mut cx) {
                Poll::Ready(Some(batch)) => seen.push(batch.unwrap().num_rows()),
                Poll::Ready(None) => break,
                Poll::Pending => panic!("the input is in memory"),
            }
        }
        assert_eq!(seen, [300, 300, 300, 100]);
    }
}
