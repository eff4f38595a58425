//! Plan rewrites almasql adds to DataFusion's analyzer: the same results,
//! computed a faster way.

mod interval_to_duration;
#[cfg(test)]
mod test_support;
mod utc_date_trunc;

use std::sync::Arc;

use datafusion::execution::FunctionRegistry;
use datafusion::prelude::SessionContext;

pub use interval_to_duration::IntervalToDuration;
pub use utc_date_trunc::UtcDateTrunc;

/// Adds almasql's rewrites to `ctx`.
pub fn register(ctx: &SessionContext) -> datafusion::error::Result<()> {
    let state = ctx.state_ref();
    let mut state = state.write();
    state.register_function_rewrite(Arc::new(IntervalToDuration))?;
    state.register_function_rewrite(Arc::new(UtcDateTrunc))
}

/// Whether a time zone name is UTC under another spelling.
fn is_utc(zone: &str) -> bool {
    [
        "UTC", "Z", "+00:00", "+0000", "+00", "Etc/UTC", "GMT", "Etc/GMT",
    ]
    .iter()
    .any(|u| zone.eq_ignore_ascii_case(u))
}
