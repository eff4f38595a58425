//! `timestamp_to_acs(timestamp)`: a timestamp to ACS time.

use std::sync::Arc;

use datafusion::arrow::compute::kernels::arity::try_unary;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::ACS_UNIX_EPOCH_OFFSET;
use crate::common::{Args, Ticks, timestamp_coercion};

#[user_doc(
    doc_section(label = "ALMA Time Functions"),
    description = "Converts a timestamp to ACS time: 100 ns units since 1582-10-15T00:00:00 UTC. Nanosecond timestamps are floored to 100 ns.",
    syntax_example = "timestamp_to_acs(ts)",
    sql_example = r#"```sql
> SELECT timestamp_to_acs(TIMESTAMP '2024-01-01 00:00:00') AS acs;
+--------------------+
| acs                |
+--------------------+
| 139233600000000000 |
+--------------------+
```"#,
    argument(
        name = "ts",
        description = "Timestamp of any precision, with or without a time zone (a timestamp without a zone is taken as UTC), or a string or date castable to one."
    )
)]
/// The `timestamp_to_acs` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimestampToAcsFunc {
    signature: Signature,
}

impl Default for TimestampToAcsFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl TimestampToAcsFunc {
    /// Creates the function with its signature `(timestamp) -> bigint`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![timestamp_coercion()], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TimestampToAcsFunc {
    fn name(&self) -> &str {
        "timestamp_to_acs"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let ticks = Ticks::try_new(&args.arrays[0])?;
        let unit = ticks.unit;
        let acs = try_unary::<_, _, Int64Type>(&ticks.values, |t| ticks_to_acs(t, unit))?;
        args.finish(Arc::new(acs))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Ticks of `unit` since the Unix epoch to ACS time (100 ns since 1582-10-15).
fn ticks_to_acs(ticks: i64, unit: TimeUnit) -> Result<i64, ArrowError> {
    let hundred_ns = match unit {
        TimeUnit::Second => ticks.checked_mul(10_000_000),
        TimeUnit::Millisecond => ticks.checked_mul(10_000),
        TimeUnit::Microsecond => ticks.checked_mul(10),
        TimeUnit::Nanosecond => Some(ticks.div_euclid(100)),
    };
    hundred_ns
        .and_then(|t| t.checked_add(ACS_UNIX_EPOCH_OFFSET))
        .ok_or_else(|| {
            ArrowError::ComputeError(format!(
                "timestamp_to_acs: timestamp {ticks} ({unit:?}) is out of the ACS range"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_maps_the_epoch_to_the_offset() {
        for unit in [
            TimeUnit::Second,
            TimeUnit::Millisecond,
            TimeUnit::Microsecond,
            TimeUnit::Nanosecond,
        ] {
            assert_eq!(ticks_to_acs(0, unit).unwrap(), ACS_UNIX_EPOCH_OFFSET);
        }
    }

    #[test]
    fn units_scale_and_nanoseconds_floor() {
        assert_eq!(
            ticks_to_acs(1, TimeUnit::Second).unwrap(),
            ACS_UNIX_EPOCH_OFFSET + 10_000_000
        );
        assert_eq!(
            ticks_to_acs(1, TimeUnit::Millisecond).unwrap(),
            ACS_UNIX_EPOCH_OFFSET + 10_000
        );
        assert_eq!(
            ticks_to_acs(-1, TimeUnit::Microsecond).unwrap(),
            ACS_UNIX_EPOCH_OFFSET - 10
        );
        assert_eq!(
            ticks_to_acs(199, TimeUnit::Nanosecond).unwrap(),
            ACS_UNIX_EPOCH_OFFSET + 1
        );
        assert_eq!(
            ticks_to_acs(-1, TimeUnit::Nanosecond).unwrap(),
            ACS_UNIX_EPOCH_OFFSET - 1
        );
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(ticks_to_acs(i64::MAX / 2, TimeUnit::Second).is_err());
    }
}
