//! Maps DataFusion and parser errors to PostgreSQL SQLSTATE codes, so that
//! clients see `42P01` for an unknown table rather than a generic `XX000`.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};

/// `syntax_error`
pub const SYNTAX_ERROR: &str = "42601";
/// `undefined_table`
pub const UNDEFINED_TABLE: &str = "42P01";
/// `undefined_column`
pub const UNDEFINED_COLUMN: &str = "42703";
/// `undefined_function`
pub const UNDEFINED_FUNCTION: &str = "42883";
/// `ambiguous_column`
pub const AMBIGUOUS_COLUMN: &str = "42702";
/// `duplicate_column`
pub const DUPLICATE_COLUMN: &str = "42701";
/// `duplicate_table`
pub const DUPLICATE_TABLE: &str = "42P07";
/// `datatype_mismatch`
pub const DATATYPE_MISMATCH: &str = "42804";
/// `feature_not_supported`
pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
/// `division_by_zero`
pub const DIVISION_BY_ZERO: &str = "22012";
/// `invalid_text_representation`
pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
/// `numeric_value_out_of_range`
pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
/// `out_of_memory`: a query needed more than the memory pool, even spilling
pub const OUT_OF_MEMORY: &str = "53200";
/// `insufficient_privilege`
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
/// `invalid_parameter_value`
pub const INVALID_PARAMETER_VALUE: &str = "22023";
/// `io_error`
pub const IO_ERROR: &str = "58030";
/// `undefined_object`, e.g. an unknown run-time parameter
pub const UNDEFINED_OBJECT: &str = "42704";
/// `in_failed_sql_transaction`
pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
/// `internal_error`
pub const INTERNAL_ERROR: &str = "XX000";

/// The SQLSTATE of a DataFusion error.
pub fn of_datafusion(err: &DataFusionError) -> &'static str {
    match err {
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            of_datafusion(inner)
        }
        DataFusionError::Shared(inner) => of_datafusion(inner),
        DataFusionError::Collection(errors) => errors.first().map_or(INTERNAL_ERROR, of_datafusion),
        DataFusionError::SQL(..) => SYNTAX_ERROR,
        DataFusionError::SchemaError(e, _) => {
            use datafusion::common::SchemaError::*;
            match e.as_ref() {
                FieldNotFound { .. } => UNDEFINED_COLUMN,
                AmbiguousReference { .. } => AMBIGUOUS_COLUMN,
                DuplicateQualifiedField { .. } | DuplicateUnqualifiedField { .. } => {
                    DUPLICATE_COLUMN
                }
            }
        }
        DataFusionError::Plan(msg) => of_plan_message(msg),
        DataFusionError::NotImplemented(_) => FEATURE_NOT_SUPPORTED,
        DataFusionError::ArrowError(e, _) => of_arrow(e),
        DataFusionError::ResourcesExhausted(_) => OUT_OF_MEMORY,
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => IO_ERROR,
        DataFusionError::Execution(msg) if msg.contains("Divide by zero") => DIVISION_BY_ZERO,
        DataFusionError::Execution(msg) if msg.contains("unrecognized configuration parameter") => {
            UNDEFINED_OBJECT
        }
        DataFusionError::External(e) => of_error(e.as_ref()),
        _ => INTERNAL_ERROR,
    }
}

fn of_plan_message(msg: &str) -> &'static str {
    let lower = msg.to_ascii_lowercase();
    if lower.starts_with("invalid function") || lower.contains("no function matches") {
        UNDEFINED_FUNCTION
    } else if lower.starts_with("table '") && lower.contains("not found") {
        UNDEFINED_TABLE
    } else if lower.contains("already exists")
        && (lower.contains("table") || lower.contains("view"))
    {
        DUPLICATE_TABLE
    } else if lower.contains("column") && lower.contains("not found") {
        UNDEFINED_COLUMN
    } else if lower.contains("cannot be cast") || lower.contains("coercion") {
        DATATYPE_MISMATCH
    } else if lower.contains("placeholder") || lower.contains("parameter") {
        INVALID_PARAMETER_VALUE
    } else {
        // Other planning errors are errors in the query: PostgreSQL reports
        // most of them in class 42 (syntax error or access rule violation).
        SYNTAX_ERROR
    }
}

fn of_arrow(err: &ArrowError) -> &'static str {
    match err {
        ArrowError::DivideByZero => DIVISION_BY_ZERO,
        ArrowError::CastError(_) | ArrowError::ParseError(_) => INVALID_TEXT_REPRESENTATION,
        ArrowError::ArithmeticOverflow(_) => NUMERIC_VALUE_OUT_OF_RANGE,
        ArrowError::ExternalError(e) => of_error(e.as_ref()),
        _ => INTERNAL_ERROR,
    }
}

/// The SQLSTATE of any error a query can fail with.
pub fn of_error(err: &(dyn std::error::Error + 'static)) -> &'static str {
    if let Some(e) = err.downcast_ref::<DataFusionError>() {
        of_datafusion(e)
    } else if err
        .downcast_ref::<almasql_engine::access::AccessDenied>()
        .is_some()
    {
        INSUFFICIENT_PRIVILEGE
    } else if err.downcast_ref::<ParserError>().is_some() {
        SYNTAX_ERROR
    } else if let Some(e) = err.downcast_ref::<ArrowError>() {
        of_arrow(e)
    } else {
        INTERNAL_ERROR
    }
}

/// Rewrites an opaque API error into an `ErrorResponse` with its SQLSTATE
/// and a message without DataFusion's internal prefixes.
pub fn classify(error: &mut PgWireError) {
    if let PgWireError::ApiError(inner) = error {
        let code = of_error(inner.as_ref());
        let message = match inner.downcast_ref::<DataFusionError>() {
            Some(e) => e.message().to_string(),
            None => inner.to_string(),
        };
        *error = PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".to_string(),
            code.to_string(),
            message,
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn code(sql: &str) -> &'static str {
        let ctx = SessionContext::new();
        ctx.sql("create table t (a int, b text)").await.unwrap();
        let err = match ctx.sql(sql).await {
            Ok(df) => df.collect().await.unwrap_err(),
            Err(e) => e,
        };
        of_datafusion(&err)
    }

    #[tokio::test]
    async fn planning_errors_get_their_codes() {
        assert_eq!(code("selec 1").await, SYNTAX_ERROR);
        assert_eq!(code("select * from nope").await, UNDEFINED_TABLE);
        assert_eq!(code("select nope from t").await, UNDEFINED_COLUMN);
        assert_eq!(code("select nope(a) from t").await, UNDEFINED_FUNCTION);
        assert_eq!(code("select 1/0").await, DIVISION_BY_ZERO);
    }
}
