//! `elevation(timestamp, ra_deg, dec_deg)`: elevation above the horizon at
//! ALMA.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::astrometry::{
    ALMA_LATITUDE_DEG, ALMA_LONGITUDE_DEG, FrameCache, elevation_rad, hour_angle_dec,
};
use crate::common::{
    Args, Ticks, as_float64, float64_coercion, float64_finite, timestamp_coercion, union_nulls,
};

#[user_doc(
    doc_section(label = "ALMA Sky Functions"),
    description = "Geometric elevation in degrees above the horizon at the ALMA site (geodetic latitude −23.022886°) of a source at ICRS (J2000) coordinates, from the apparent place of date (annual aberration, IAU 2006 precession, nutation, diurnal aberration; UT1 = UTC). No refraction is applied. Accurate to about 0.5″ (checked against astropy within 0.01°).",
    syntax_example = "elevation(ts, ra_deg, dec_deg)",
    sql_example = r#"```sql
> SELECT round(elevation(TIMESTAMP '2024-06-01 06:00:00', 291.2127, -29.2417), 3) AS el;
+--------+
| el     |
+--------+
| 71.768 |
+--------+
```"#,
    argument(
        name = "ts",
        description = "Timestamp of any precision, with or without a time zone (a timestamp without a zone is taken as UTC), or a string castable to one."
    ),
    argument(name = "ra_deg", description = "ICRS right ascension in degrees."),
    argument(name = "dec_deg", description = "ICRS declination in degrees.")
)]
/// The `elevation` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ElevationFunc {
    signature: Signature,
}

impl Default for ElevationFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ElevationFunc {
    /// Creates the function with its signature
    /// `(timestamp, double, double) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(
                vec![timestamp_coercion(), float64_coercion(), float64_coercion()],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for ElevationFunc {
    fn name(&self) -> &str {
        "elevation"
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
        let ra = as_float64(&args.arrays[1])?;
        let dec = as_float64(&args.arrays[2])?;
        let nulls = union_nulls(&[&micros, &ra, &dec]);
        let longitude = ALMA_LONGITUDE_DEG.to_radians();
        let latitude = ALMA_LATITUDE_DEG.to_radians();
        let mut cache = FrameCache::default();
        let values = (0..micros.len())
            .map(|i| {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    return 0.0;
                }
                let t = micros.value(i);
                let frame = cache.get(t);
                let (ha, dec_t) = hour_angle_dec(
                    &frame,
                    t,
                    ra.value(i).to_radians(),
                    dec.value(i).to_radians(),
                    longitude,
                );
                elevation_rad(ha, dec_t, latitude).to_degrees()
            })
            .collect::<Vec<_>>();
        args.finish(Arc::new(float64_finite(values, nulls.as_ref())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
