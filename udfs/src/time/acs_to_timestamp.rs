//! `acs_to_timestamp(bigint)`: ACS time to a UTC timestamp.

use std::sync::Arc;

use datafusion::arrow::compute::kernels::arity::try_unary;
use datafusion::arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::arrow::error::ArrowError;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::ACS_UNIX_EPOCH_OFFSET;
use crate::common::{Args, UTC, as_int64, int64_coercion, utc_timestamp_type};

#[user_doc(
    doc_section(label = "ALMA Time Functions"),
    description = "Converts an ACS time (the ALMA Common Software time scale: 100 ns units since 1582-10-15T00:00:00 UTC) to a UTC timestamp. The result has microsecond precision; the sub-microsecond part is floored.",
    syntax_example = "acs_to_timestamp(acs_time)",
    sql_example = r#"```sql
> SELECT acs_to_timestamp(139233600000000000) AS t;
+----------------------+
| t                    |
+----------------------+
| 2024-01-01T00:00:00Z |
+----------------------+
```"#,
    argument(
        name = "acs_time",
        description = "ACS time as a BIGINT count of 100 ns units since 1582-10-15T00:00:00 UTC (the Unix epoch is 122192928000000000)."
    )
)]
/// The `acs_to_timestamp` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AcsToTimestampFunc {
    signature: Signature,
}

impl Default for AcsToTimestampFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl AcsToTimestampFunc {
    /// Creates the function with its signature `(bigint) -> timestamptz`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![int64_coercion()], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AcsToTimestampFunc {
    fn name(&self) -> &str {
        "acs_to_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(utc_timestamp_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let acs = as_int64(&args.arrays[0])?;
        let micros =
            try_unary::<_, _, TimestampMicrosecondType>(&acs, acs_to_micros)?.with_timezone(UTC);
        args.finish(Arc::new(micros))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// ACS ticks (100 ns since 1582-10-15) to microseconds since the Unix epoch,
/// flooring the sub-microsecond part.
fn acs_to_micros(acs: i64) -> Result<i64, ArrowError> {
    acs.checked_sub(ACS_UNIX_EPOCH_OFFSET)
        .map(|ticks| ticks.div_euclid(10))
        .ok_or_else(|| {
            ArrowError::ComputeError(format!("acs_to_timestamp: ACS time {acs} is out of range"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_and_gregorian_epoch() {
        assert_eq!(acs_to_micros(ACS_UNIX_EPOCH_OFFSET).unwrap(), 0);
        // 1582-10-15T00:00:00Z is 12219292800 s before the Unix epoch.
        assert_eq!(acs_to_micros(0).unwrap(), -12_219_292_800_000_000);
    }

    #[test]
    fn sub_microsecond_ticks_floor() {
        assert_eq!(acs_to_micros(ACS_UNIX_EPOCH_OFFSET + 19).unwrap(), 1);
        assert_eq!(acs_to_micros(ACS_UNIX_EPOCH_OFFSET - 1).unwrap(), -1);
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(acs_to_micros(i64::MIN).is_err());
    }
}
