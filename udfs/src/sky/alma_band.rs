//! `alma_band(freq_ghz)`: ALMA receiver band of a sky frequency.

use std::sync::Arc;

use datafusion::arrow::array::Int32Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::common::{Args, as_float64, float64_coercion};

/// Receiver bands as `(band, low GHz, high GHz)`, highest band first.
pub const ALMA_BANDS: [(i32, f64, f64); 10] = [
    (10, 787.0, 950.0),
    (9, 602.0, 720.0),
    (8, 385.0, 500.0),
    (7, 275.0, 373.0),
    (6, 211.0, 275.0),
    (5, 163.0, 211.0),
    (4, 125.0, 163.0),
    (3, 84.0, 116.0),
    (2, 67.0, 90.0),
    (1, 35.0, 50.0),
];

#[user_doc(
    doc_section(label = "ALMA Sky Functions"),
    description = "ALMA receiver band (1–10) of a sky frequency in GHz, from the band edges B1 35–50, B2 67–90, B3 84–116, B4 125–163, B5 163–211, B6 211–275, B7 275–373, B8 385–500, B9 602–720, B10 787–950 GHz. Ranges include both edges; where two bands overlap or share an edge the higher-numbered band wins: 84–90 GHz is band 3, 163 GHz band 5, 211 GHz band 6, 275 GHz band 7. NULL outside every band (and for NaN).",
    syntax_example = "alma_band(freq_ghz)",
    sql_example = r#"```sql
> SELECT alma_band(230.538) AS co21, alma_band(86.0) AS overlap, alma_band(163) AS edge, alma_band(60) AS gap;
+------+---------+------+-----+
| co21 | overlap | edge | gap |
+------+---------+------+-----+
| 6    | 3       | 5    |     |
+------+---------+------+-----+
```"#,
    argument(
        name = "freq_ghz",
        description = "Sky frequency in GHz, any numeric type."
    )
)]
/// The `alma_band` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AlmaBandFunc {
    signature: Signature,
}

impl Default for AlmaBandFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl AlmaBandFunc {
    /// Creates the function with its signature `(double) -> int`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![float64_coercion()], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AlmaBandFunc {
    fn name(&self) -> &str {
        "alma_band"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let freq = as_float64(&args.arrays[0])?;
        let bands: Int32Array = freq.iter().map(|f| f.and_then(band_of)).collect();
        args.finish(Arc::new(bands))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The band containing `freq_ghz`, the higher one where bands overlap.
#[inline]
pub fn band_of(freq_ghz: f64) -> Option<i32> {
    ALMA_BANDS
        .iter()
        .find(|(_, low, high)| (*low..=*high).contains(&freq_ghz))
        .map(|(band, _, _)| *band)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_centres() {
        let centres = [
            42.0, 80.0, 100.0, 145.0, 187.0, 230.0, 345.0, 460.0, 650.0, 870.0,
        ];
        for (i, f) in centres.iter().enumerate() {
            assert_eq!(band_of(*f), Some(i as i32 + 1), "{f}");
        }
    }

    #[test]
    fn edges_and_overlaps_go_to_the_higher_band() {
        assert_eq!(band_of(35.0), Some(1));
        assert_eq!(band_of(50.0), Some(1));
        assert_eq!(band_of(84.0), Some(3));
        assert_eq!(band_of(90.0), Some(3));
        assert_eq!(band_of(83.999), Some(2));
        assert_eq!(band_of(163.0), Some(5));
        assert_eq!(band_of(211.0), Some(6));
        assert_eq!(band_of(275.0), Some(7));
        assert_eq!(band_of(950.0), Some(10));
    }

    #[test]
    fn gaps_and_nan_have_no_band() {
        for f in [
            0.0,
            34.99,
            50.01,
            66.9,
            116.5,
            124.0,
            380.0,
            550.0,
            750.0,
            950.1,
            f64::NAN,
            -1.0,
        ] {
            assert_eq!(band_of(f), None, "{f}");
        }
    }
}
