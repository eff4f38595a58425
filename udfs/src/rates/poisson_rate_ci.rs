//! `poisson_rate_ci(events, exposure [, confidence])`: Poisson rate with its
//! exact (Garwood) confidence interval.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::gamma::gamma_p_inv;
use crate::common::{Args, as_float64, float64_coercion, union_nulls};

/// Confidence level when none is given.
const DEFAULT_CONFIDENCE: f64 = 0.95;

#[user_doc(
    doc_section(label = "ALMA Rate Functions"),
    description = "Poisson event rate `events / exposure` with its exact two-sided confidence interval (Garwood 1936, from chi-square quantiles): lower = χ²(α/2; 2k) / (2·exposure), 0 when k = 0; upper = χ²(1 − α/2; 2k + 2) / (2·exposure), α = 1 − confidence. Returns the struct {rate, lower, upper} in events per exposure unit — e.g. the failure rate of photonic references per antenna-year. NULL when an argument is NULL; an error for negative events, non-positive exposure or a confidence outside (0, 1).",
    syntax_example = "poisson_rate_ci(events, exposure [, confidence])",
    sql_example = r#"```sql
> SELECT round(ci['rate'], 4) AS rate, round(ci['lower'], 4) AS lower, round(ci['upper'], 4) AS upper
  FROM (SELECT poisson_rate_ci(3, 10.0) AS ci);
+------+--------+--------+
| rate | lower  | upper  |
+------+--------+--------+
| 0.3  | 0.0619 | 0.8767 |
+------+--------+--------+
```"#,
    argument(
        name = "events",
        description = "Number of events k ≥ 0 (non-integer counts are allowed)."
    ),
    argument(
        name = "exposure",
        description = "Exposure (time, antenna-years, ...) > 0."
    ),
    argument(
        name = "confidence",
        description = "Two-sided confidence level in (0, 1); default 0.95."
    )
)]
/// The `poisson_rate_ci` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PoissonRateCiFunc {
    signature: Signature,
}

impl Default for PoissonRateCiFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl PoissonRateCiFunc {
    /// Creates the function with its signatures `(double, double)` and
    /// `(double, double, double)` returning
    /// `struct<rate double, lower double, upper double>`.
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Coercible(vec![float64_coercion(); 2]),
                    TypeSignature::Coercible(vec![float64_coercion(); 3]),
                ],
                Volatility::Immutable,
            ),
        }
    }

    fn fields() -> Fields {
        Fields::from(vec![
            Field::new("rate", DataType::Float64, true),
            Field::new("lower", DataType::Float64, true),
            Field::new("upper", DataType::Float64, true),
        ])
    }
}

impl ScalarUDFImpl for PoissonRateCiFunc {
    fn name(&self) -> &str {
        "poisson_rate_ci"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(Self::fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let events = as_float64(&args.arrays[0])?;
        let exposure = as_float64(&args.arrays[1])?;
        let confidence = match args.arrays.get(2) {
            Some(c) => as_float64(c)?,
            None => Float64Array::from_value(DEFAULT_CONFIDENCE, events.len()),
        };
        let nulls = union_nulls(&[&events, &exposure, &confidence]);
        let n = events.len();
        let (mut rate, mut lower, mut upper) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        // Counts repeat (small integers, one confidence): memoise the
        // quantile pair per (events, confidence) within the batch.
        let mut memo: HashMap<(u64, u64), (f64, f64)> = HashMap::new();
        for i in 0..n {
            if nulls.as_ref().is_some_and(|b| b.is_null(i)) {
                rate.push(0.0);
                lower.push(0.0);
                upper.push(0.0);
                continue;
            }
            let (k, e, c) = (events.value(i), exposure.value(i), confidence.value(i));
            validate(k, e, c)?;
            let (lo, hi) = *memo
                .entry((k.to_bits(), c.to_bits()))
                .or_insert_with(|| garwood_counts(k, c));
            rate.push(k / e);
            lower.push(lo / e);
            upper.push(hi / e);
        }
        let column = |v: Vec<f64>| Arc::new(Float64Array::new(v.into(), nulls.clone())) as _;
        let result = StructArray::try_new(
            Self::fields(),
            vec![column(rate), column(lower), column(upper)],
            nulls.clone(),
        )?;
        args.finish(Arc::new(result))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn validate(events: f64, exposure: f64, confidence: f64) -> Result<()> {
    if !(events >= 0.0 && events.is_finite()) {
        return exec_err!("poisson_rate_ci: events must be a finite count >= 0, got {events}");
    }
    if !(exposure > 0.0 && exposure.is_finite()) {
        return exec_err!("poisson_rate_ci: exposure must be > 0, got {exposure}");
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return exec_err!("poisson_rate_ci: confidence must be in (0, 1), got {confidence}");
    }
    Ok(())
}

/// Garwood limits on the expected count for `k` observed events.
fn garwood_counts(k: f64, confidence: f64) -> (f64, f64) {
    let alpha = 1.0 - confidence;
    let lower = if k == 0.0 {
        0.0
    } else {
        gamma_p_inv(k, alpha / 2.0)
    };
    let upper = gamma_p_inv(k + 1.0, 1.0 - alpha / 2.0);
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_events_upper_limit_is_minus_ln_alpha_half() {
        // P(1, x) = 1 − e^{−x} = 0.975 ⇒ x = −ln 0.025 = 3.6889.
        let (lo, hi) = garwood_counts(0.0, 0.95);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.025f64.ln().abs()).abs() < 1e-12);
    }

    #[test]
    fn textbook_interval_for_ten_events() {
        // Garwood 95 % limits for k = 10: 4.7954 and 18.3904 (standard tables).
        let (lo, hi) = garwood_counts(10.0, 0.95);
        assert!((lo - 4.7954).abs() < 1e-4, "{lo}");
        assert!((hi - 18.3904).abs() < 1e-4, "{hi}");
    }

    #[test]
    fn invalid_arguments_are_errors() {
        assert!(validate(-1.0, 1.0, 0.95).is_err());
        assert!(validate(1.0, 0.0, 0.95).is_err());
        assert!(validate(1.0, f64::NAN, 0.95).is_err());
        assert!(validate(1.0, 1.0, 1.0).is_err());
        assert!(validate(1.0, 1.0, 0.0).is_err());
        assert!(validate(0.0, 1.0, 0.5).is_ok());
    }
}
