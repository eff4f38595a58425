//! `mjd(timestamp)`: Modified Julian Date of a timestamp.

use std::sync::Arc;

use datafusion::arrow::compute::kernels::arity::unary;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::common::{Args, Ticks, UNIX_EPOCH_MJD, split_day, ticks_per_day, timestamp_coercion};

#[user_doc(
    doc_section(label = "ALMA Time Functions"),
    description = "Modified Julian Date (days since 1858-11-17T00:00:00) of a timestamp, in the UTC time scale (MJD = JD − 2400000.5). Days are 86400 s long; a leap second is not counted.",
    syntax_example = "mjd(ts)",
    sql_example = r#"```sql
> SELECT mjd(TIMESTAMP '2024-01-01 12:00:00') AS mjd;
+---------+
| mjd     |
+---------+
| 60310.5 |
+---------+
```"#,
    argument(
        name = "ts",
        description = "Timestamp of any precision, with or without a time zone (a timestamp without a zone is taken as UTC), or a string or date castable to one."
    )
)]
/// The `mjd` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MjdFunc {
    signature: Signature,
}

impl Default for MjdFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl MjdFunc {
    /// Creates the function with its signature `(timestamp) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![timestamp_coercion()], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MjdFunc {
    fn name(&self) -> &str {
        "mjd"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let ticks = Ticks::try_new(&args.arrays[0])?;
        let per_day = ticks_per_day(ticks.unit);
        let mjd = unary::<_, _, Float64Type>(&ticks.values, |t| ticks_to_mjd(t, per_day));
        args.finish(Arc::new(mjd))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// MJD of `ticks` since the Unix epoch with `per_day` ticks a day.
#[inline]
pub(crate) fn ticks_to_mjd(ticks: i64, per_day: i64) -> f64 {
    let (day, frac) = split_day(ticks, per_day);
    (day + UNIX_EPOCH_MJD) as f64 + frac
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::MICROS_PER_DAY;

    #[test]
    fn epochs() {
        assert_eq!(ticks_to_mjd(0, MICROS_PER_DAY), 40587.0);
        // 1858-11-17T00:00:00Z, the MJD epoch, is 40587 days before 1970.
        assert_eq!(ticks_to_mjd(-40587 * 86_400, 86_400), 0.0);
        // J2000.0 = 2000-01-01T12:00:00 = MJD 51544.5
        assert_eq!(ticks_to_mjd(946_728_000_000, 86_400_000), 51544.5);
    }

    #[test]
    fn before_the_unix_epoch() {
        assert_eq!(ticks_to_mjd(-MICROS_PER_DAY / 4, MICROS_PER_DAY), 40586.75);
    }
}
