//! `hour_angle(timestamp, ra_deg [, dec_deg])`: hour angle at ALMA.

use std::f64::consts::PI;
use std::sync::Arc;

use datafusion::arrow::compute::kernels::arity::binary;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::astrometry::{ALMA_LONGITUDE_DEG, FrameCache, hour_angle_dec, lmst_hours};
use crate::common::{
    Args, Ticks, as_float64, float64_coercion, float64_finite, timestamp_coercion, union_nulls,
};

#[user_doc(
    doc_section(label = "ALMA Sky Functions"),
    description = "Hour angle in hours [−12, 12) at the ALMA site; negative before transit, positive after. With two arguments it is the local mean sidereal time minus `ra_deg` (exactly `lst(ts) − ra_deg / 15`, wrapped), the usual LST − RA bookkeeping. With the declination as well, `ra_deg`/`dec_deg` are ICRS (J2000) coordinates and the result is the local apparent hour angle of the source: apparent sidereal time minus its apparent right ascension of date (annual aberration, IAU 2006 precession, nutation, diurnal aberration; UT1 = UTC), within about 0.5″ of astropy's `HADec` frame (0.03 s of time away from the poles). The two differ by precession since J2000 (up to a minute of time).",
    syntax_example = "hour_angle(ts, ra_deg [, dec_deg])",
    sql_example = r#"```sql
> SELECT round(hour_angle(TIMESTAMP '2024-06-01 06:00:00', 291.2127), 4) AS lst_minus_ra,
         round(hour_angle(TIMESTAMP '2024-06-01 06:00:00', 291.2127, -29.2417), 4) AS apparent_ha;
+--------------+-------------+
| lst_minus_ra | apparent_ha |
+--------------+-------------+
| -1.25        | -1.2759     |
+--------------+-------------+
```"#,
    argument(
        name = "ts",
        description = "Timestamp of any precision, with or without a time zone (a timestamp without a zone is taken as UTC), or a string castable to one."
    ),
    argument(name = "ra_deg", description = "Right ascension in degrees."),
    argument(
        name = "dec_deg",
        description = "Optional ICRS declination in degrees; when given, the apparent hour angle of the ICRS source is returned."
    )
)]
/// The `hour_angle` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HourAngleFunc {
    signature: Signature,
}

impl Default for HourAngleFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl HourAngleFunc {
    /// Creates the function with its signatures `(timestamp, double)` and
    /// `(timestamp, double, double)`, both returning `double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Coercible(vec![timestamp_coercion(), float64_coercion()]),
                    TypeSignature::Coercible(vec![
                        timestamp_coercion(),
                        float64_coercion(),
                        float64_coercion(),
                    ]),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for HourAngleFunc {
    fn name(&self) -> &str {
        "hour_angle"
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
        let Some(dec) = args.arrays.get(2) else {
            let ha = binary::<_, _, _, Float64Type>(&micros, &ra, mean_hour_angle_hours)?;
            return args.finish(Arc::new(ha));
        };
        let dec = as_float64(dec)?;
        let nulls = union_nulls(&[&micros, &ra, &dec]);
        let longitude = ALMA_LONGITUDE_DEG.to_radians();
        let mut cache = FrameCache::default();
        let values = (0..micros.len())
            .map(|i| {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    return 0.0;
                }
                let t = micros.value(i);
                let frame = cache.get(t);
                let (ha, _) = hour_angle_dec(
                    &frame,
                    t,
                    ra.value(i).to_radians(),
                    dec.value(i).to_radians(),
                    longitude,
                );
                ha * 12.0 / PI
            })
            .collect::<Vec<_>>();
        args.finish(Arc::new(float64_finite(values, nulls.as_ref())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// LMST at ALMA minus `ra_deg`, in hours wrapped to `[−12, 12)`.
#[inline]
fn mean_hour_angle_hours(micros: i64, ra_deg: f64) -> f64 {
    (lmst_hours(micros, ALMA_LONGITUDE_DEG) - ra_deg / 15.0 + 12.0).rem_euclid(24.0) - 12.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_hour_angle_is_lst_minus_ra_wrapped() {
        let t = 1_717_221_600_000_000; // 2024-06-01T06:00:00Z
        let lst = lmst_hours(t, ALMA_LONGITUDE_DEG);
        let ha = mean_hour_angle_hours(t, 15.0 * lst);
        assert!(ha.abs() < 1e-9);
        let ha = mean_hour_angle_hours(t, 15.0 * (lst - 11.0));
        assert!((ha - 11.0).abs() < 1e-9);
        let ha = mean_hour_angle_hours(t, 15.0 * (lst + 13.0));
        assert!((ha - 11.0).abs() < 1e-9, "{ha}");
    }
}
