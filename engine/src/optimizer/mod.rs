//! Plan rewrites almasql adds to DataFusion's analyzer and optimizer.

mod interval_to_duration;

use std::sync::Arc;

use datafusion::execution::FunctionRegistry;
use datafusion::prelude::SessionContext;

pub use interval_to_duration::IntervalToDuration;

/// Adds almasql's rewrites to `ctx`.
pub fn register(ctx: &SessionContext) -> datafusion::error::Result<()> {
    ctx.state_ref()
        .write()
        .register_function_rewrite(Arc::new(IntervalToDuration))
}
