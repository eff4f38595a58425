//! Plan rewrites almasql adds to DataFusion's analyzer: the same results,
//! computed a faster way; and [`ShortPolls`], a physical rule that keeps
//! joins cancellable.

mod interval_to_duration;
mod short_polls;
#[cfg(test)]
mod test_support;
mod utc_date_trunc;

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;
use datafusion::prelude::SessionContext;

pub use interval_to_duration::interval_to_duration;
pub use short_polls::{PAIRS_PER_SLICE, ShortPolls, YieldingExec};
pub use utc_date_trunc::utc_date_trunc;

/// Adds almasql's rewrites to `ctx`'s analyzer, after DataFusion's own
/// rules (type coercion included).
pub fn register(ctx: &SessionContext) {
    ctx.add_analyzer_rule(Arc::new(ZoneFreeTimestamps));
}

/// Timestamp arithmetic that does not depend on a time zone, computed
/// without the time zone database: [`utc_date_trunc`] and
/// [`interval_to_duration`], applied to every expression of the plan.
///
/// It runs after type coercion, so it sees every operand's final type, and
/// keeps each expression's output name. Expressions under `GROUPING SETS`,
/// `CUBE` and `ROLLUP` are left as they are: their members' names are the
/// aggregate's column names, which a rewrite would change.
#[derive(Debug, Default)]
pub struct ZoneFreeTimestamps;

impl AnalyzerRule for ZoneFreeTimestamps {
    fn name(&self) -> &str {
        "zone_free_timestamps"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(rewrite_plan).data()
    }
}

/// Rewrites the expressions of one plan node.
fn rewrite_plan(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let mut schema = merge_schema(&plan.inputs());
    if let LogicalPlan::TableScan(scan) = &plan {
        schema.merge(&DFSchema::try_from_qualified_schema(
            scan.table_name.clone(),
            &scan.source.schema(),
        )?);
    }
    let names = NamePreserver::new(&plan);
    plan.map_expressions(|expr| {
        if matches!(expr, Expr::GroupingSet(_)) {
            return Ok(Transformed::no(expr));
        }
        let name = names.save(&expr);
        let rewritten = expr.transform_up(|e| {
            utc_date_trunc(e, &schema)?.transform_data(|e| interval_to_duration(e, &schema))
        })?;
        Ok(rewritten.update_data(|e| name.restore(e)))
    })
}

/// Whether a time zone name is UTC under another spelling.
fn is_utc(zone: &str) -> bool {
    [
        "UTC", "Z", "+00:00", "+0000", "+00", "Etc/UTC", "GMT", "Etc/GMT",
    ]
    .iter()
    .any(|u| zone.eq_ignore_ascii_case(u))
}
