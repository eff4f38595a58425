//! `mjd_to_timestamp(double)`: Modified Julian Date to a UTC timestamp.

use std::sync::Arc;

use datafusion::arrow::compute::kernels::arity::try_unary;
use datafusion::arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::arrow::error::ArrowError;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::common::{
    Args, MICROS_PER_DAY, UNIX_EPOCH_MJD, UTC, as_float64, float64_coercion, utc_timestamp_type,
};

#[user_doc(
    doc_section(label = "ALMA Time Functions"),
    description = "Converts a Modified Julian Date (UTC) to a UTC timestamp, rounded to the microsecond.",
    syntax_example = "mjd_to_timestamp(mjd)",
    sql_example = r#"```sql
> SELECT mjd_to_timestamp(60310.75) AS t;
+----------------------+
| t                    |
+----------------------+
| 2024-01-01T18:00:00Z |
+----------------------+
```"#,
    argument(
        name = "mjd",
        description = "Modified Julian Date as a DOUBLE (days since 1858-11-17T00:00:00 UTC). NaN, infinities and dates outside the timestamp range are errors."
    )
)]
/// The `mjd_to_timestamp` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MjdToTimestampFunc {
    signature: Signature,
}

impl Default for MjdToTimestampFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl MjdToTimestampFunc {
    /// Creates the function with its signature `(double) -> timestamptz`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![float64_coercion()], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MjdToTimestampFunc {
    fn name(&self) -> &str {
        "mjd_to_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(utc_timestamp_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let mjd = as_float64(&args.arrays[0])?;
        let ts =
            try_unary::<_, _, TimestampMicrosecondType>(&mjd, mjd_to_micros)?.with_timezone(UTC);
        args.finish(Arc::new(ts))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Largest whole-day count whose microseconds fit an `i64`.
const MAX_DAYS: f64 = (i64::MAX / MICROS_PER_DAY - 1) as f64;

/// MJD to microseconds since the Unix epoch, rounded to the microsecond.
fn mjd_to_micros(mjd: f64) -> Result<i64, ArrowError> {
    let day = mjd.floor();
    let days = day - UNIX_EPOCH_MJD as f64;
    if !mjd.is_finite() || days.abs() > MAX_DAYS {
        return Err(ArrowError::ComputeError(format!(
            "mjd_to_timestamp: MJD {mjd} is out of the timestamp range"
        )));
    }
    // Whole days and the fraction apart, so the fraction keeps its precision.
    let frac_micros = ((mjd - day) * MICROS_PER_DAY as f64).round() as i64;
    Ok(days as i64 * MICROS_PER_DAY + frac_micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs() {
        assert_eq!(mjd_to_micros(40587.0).unwrap(), 0);
        assert_eq!(mjd_to_micros(51544.5).unwrap(), 946_728_000_000_000);
        assert_eq!(mjd_to_micros(40586.75).unwrap(), -MICROS_PER_DAY / 4);
    }

    #[test]
    fn rounds_to_the_microsecond() {
        // 1.5 us into MJD 0 (near 0 an f64 resolves far below 1 us) rounds
        // half away from zero.
        let half_us = 0.5 / MICROS_PER_DAY as f64;
        assert_eq!(
            mjd_to_micros(3.0 * half_us).unwrap(),
            -UNIX_EPOCH_MJD * MICROS_PER_DAY + 2
        );
    }

    #[test]
    fn roundtrips_with_mjd() {
        for micros in [0_i64, 1, -1, 1_704_067_200_123_456, -12_219_292_800_000_000] {
            let mjd = super::super::mjd::ticks_to_mjd(micros, MICROS_PER_DAY);
            let back = mjd_to_micros(mjd).unwrap();
            // An f64 MJD near 60000 resolves about 1 us.
            assert!((back - micros).abs() <= 1, "{micros} -> {mjd} -> {back}");
        }
    }

    #[test]
    fn non_finite_and_huge_values_are_errors() {
        assert!(mjd_to_micros(f64::NAN).is_err());
        assert!(mjd_to_micros(f64::INFINITY).is_err());
        assert!(mjd_to_micros(1e18).is_err());
    }
}
