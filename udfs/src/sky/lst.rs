//! `lst(timestamp [, longitude_deg])`: local mean sidereal time.

use std::sync::Arc;

use datafusion::arrow::array::Float64Array;
use datafusion::arrow::compute::kernels::arity::{binary, unary};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::astrometry::{ALMA_LONGITUDE_DEG, lmst_hours};
use crate::common::{Args, Ticks, as_float64, float64_coercion, timestamp_coercion};

#[user_doc(
    doc_section(label = "ALMA Sky Functions"),
    description = "Local mean sidereal time in hours [0, 24). The Greenwich mean sidereal time is the IAU 2006 Earth-rotation-angle based expression (SOFA `gmst06`) with UT1 taken as UTC; the default longitude is the ALMA array reference position used by CASA (WGS84 −67.754929° east, −23.022886°, 5056.8 m; ITRF 2225142.180269, −5440307.370349, −2481029.851874 m).",
    syntax_example = "lst(ts [, longitude_deg])",
    sql_example = r#"```sql
> SELECT round(lst(TIMESTAMP '2024-01-01 00:00:00'), 6) AS lst_alma,
         round(lst(TIMESTAMP '2024-01-01 00:00:00', 0.0), 6) AS gmst;
+----------+----------+
| lst_alma | gmst     |
+----------+----------+
| 2.159846 | 6.676841 |
+----------+----------+
```"#,
    argument(
        name = "ts",
        description = "Timestamp of any precision, with or without a time zone (a timestamp without a zone is taken as UTC), or a string castable to one."
    ),
    argument(
        name = "longitude_deg",
        description = "Optional east longitude in degrees; defaults to the ALMA site (−67.754929)."
    )
)]
/// The `lst` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LstFunc {
    signature: Signature,
}

impl Default for LstFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl LstFunc {
    /// Creates the function with its signatures `(timestamp)` and
    /// `(timestamp, double)`, both returning `double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Coercible(vec![timestamp_coercion()]),
                    TypeSignature::Coercible(vec![timestamp_coercion(), float64_coercion()]),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for LstFunc {
    fn name(&self) -> &str {
        "lst"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let micros = Ticks::try_new(&args.arrays[0])?.to_micros()?;
        let lst: Float64Array = match args.arrays.get(1) {
            None => unary::<_, _, Float64Type>(&micros, |t| lmst_hours(t, ALMA_LONGITUDE_DEG)),
            Some(longitude) => {
                let longitude = as_float64(longitude)?;
                binary::<_, _, _, Float64Type>(&micros, &longitude, lmst_hours)?
            }
        };
        args.finish(Arc::new(lst))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
