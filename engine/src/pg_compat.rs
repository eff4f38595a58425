//! Functions PostgreSQL clients expect that neither DataFusion nor
//! datafusion-pg-catalog provide in the form they need.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// The PostgreSQL version almasql reports; clients parse its number.
pub const PG_VERSION: &str = "16.6";

/// The text `version()` returns: clients such as DBeaver and Metabase expect
/// it to begin with `PostgreSQL <major>.<minor>`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (almasql {}, Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    )
}

/// Registers `version()` in the PostgreSQL form.
pub fn register(ctx: &SessionContext) {
    let version = ScalarValue::Utf8(Some(version_string()));
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(version.clone()))),
    ));
}
