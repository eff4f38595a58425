//! `lst_overlap_hours(lst_start, lst_end, bin_start, bin_end)`: overlap of
//! two LST intervals on the 24 h circle.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::common::{Args, as_float64, float64_coercion, float64_finite, union_nulls};

#[user_doc(
    doc_section(label = "ALMA Sky Functions"),
    description = "Hours of overlap of two LST intervals on the 24 h circle. Each interval runs forward from its start to its end, wrapping through 24 h when the end is smaller than the start (22 → 2 is four hours); values outside [0, 24) are taken modulo 24, and an interval whose start equals its end is empty, except that an end exactly 24 h after the start (e.g. 0 → 24) is the whole day. An overlap in two pieces is summed. NULL when an argument is NULL or not finite.",
    syntax_example = "lst_overlap_hours(lst_start, lst_end, bin_start, bin_end)",
    sql_example = r#"```sql
> SELECT lst_overlap_hours(22, 4, 2, 23) AS two_pieces, lst_overlap_hours(1, 3, 2, 6) AS one_piece;
+------------+-----------+
| two_pieces | one_piece |
+------------+-----------+
| 3.0        | 1.0       |
+------------+-----------+
```"#,
    argument(
        name = "lst_start",
        description = "Start of the first interval, LST hours."
    ),
    argument(
        name = "lst_end",
        description = "End of the first interval, LST hours."
    ),
    argument(
        name = "bin_start",
        description = "Start of the second interval, LST hours."
    ),
    argument(
        name = "bin_end",
        description = "End of the second interval, LST hours."
    ),
    related_udf(name = "lst_bins")
)]
/// The `lst_overlap_hours` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LstOverlapHoursFunc {
    signature: Signature,
}

impl Default for LstOverlapHoursFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl LstOverlapHoursFunc {
    /// Creates the function with its signature
    /// `(double, double, double, double) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![float64_coercion(); 4], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for LstOverlapHoursFunc {
    fn name(&self) -> &str {
        "lst_overlap_hours"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let [a0, a1, b0, b1] = [0, 1, 2, 3].map(|i| as_float64(&args.arrays[i]));
        let (a0, a1, b0, b1) = (a0?, a1?, b0?, b1?);
        let nulls = union_nulls(&[&a0, &a1, &b0, &b1]);
        let values = (0..a0.len())
            .map(|i| overlap_hours(a0.value(i), a1.value(i), b0.value(i), b1.value(i)))
            .collect();
        args.finish(Arc::new(float64_finite(values, nulls.as_ref())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// An interval on the circle as its start in `[0, 24)` and length `[0, 24]`.
#[inline]
fn arc(start: f64, end: f64) -> (f64, f64) {
    let mut length = (end - start).rem_euclid(24.0);
    if length == 0.0 && end != start {
        length = 24.0;
    }
    (start.rem_euclid(24.0), length)
}

/// Overlap in hours of the LST intervals `a0 → a1` and `b0 → b1`; NaN when
/// an argument is not finite.
#[inline]
pub(crate) fn overlap_hours(a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    if !(a0.is_finite() && a1.is_finite() && b0.is_finite() && b1.is_finite()) {
        return f64::NAN;
    }
    let (a, la) = arc(a0, a1);
    let (b, lb) = arc(b0, b1);
    // With both starts in [0, 24) and lengths ≤ 24, the second interval's
    // copies shifted by −24, 0 and +24 h cover every overlap.
    [-24.0, 0.0, 24.0]
        .iter()
        .map(|shift| ((a + la).min(b + shift + lb) - a.max(b + shift)).max(0.0))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_disjoint() {
        assert_eq!(overlap_hours(1.0, 3.0, 2.0, 6.0), 1.0);
        assert_eq!(overlap_hours(1.0, 3.0, 4.0, 6.0), 0.0);
        assert_eq!(overlap_hours(1.0, 3.0, 3.0, 6.0), 0.0);
        assert_eq!(overlap_hours(2.0, 5.0, 1.0, 6.0), 3.0);
    }

    #[test]
    fn wrap_around() {
        assert_eq!(overlap_hours(22.0, 2.0, 23.0, 1.0), 2.0);
        assert_eq!(overlap_hours(22.0, 2.0, 0.0, 4.0), 2.0);
        assert_eq!(overlap_hours(22.0, 4.0, 2.0, 23.0), 3.0);
        assert_eq!(overlap_hours(-2.0, 26.0, 23.0, 25.0), 2.0);
    }

    #[test]
    fn whole_day_and_empty() {
        assert_eq!(overlap_hours(0.0, 24.0, 5.0, 7.5), 2.5);
        assert_eq!(overlap_hours(0.0, 24.0, 0.0, 24.0), 24.0);
        assert_eq!(overlap_hours(3.0, 3.0, 0.0, 24.0), 0.0);
        assert_eq!(overlap_hours(6.0, 30.0, 20.0, 4.0), 8.0);
    }

    #[test]
    fn symmetric() {
        let cases = [
            (22.0, 4.0, 2.0, 23.0),
            (1.0, 13.0, 12.0, 2.0),
            (0.0, 24.0, 23.5, 0.5),
        ];
        for (a0, a1, b0, b1) in cases {
            assert_eq!(overlap_hours(a0, a1, b0, b1), overlap_hours(b0, b1, a0, a1));
        }
    }

    #[test]
    fn non_finite_is_nan() {
        assert!(overlap_hours(f64::NAN, 1.0, 0.0, 2.0).is_nan());
        assert!(overlap_hours(0.0, f64::INFINITY, 0.0, 2.0).is_nan());
    }
}
