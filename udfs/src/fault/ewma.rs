//! `ewma(value, alpha)`: exponentially weighted moving average over ordered
//! rows.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion_macros::user_doc;

use crate::common::{as_float64, float64_coercion, union_nulls};

#[user_doc(
    doc_section(label = "ALMA Fault Detection Functions"),
    description = "Window function: exponentially weighted moving average over the partition's rows in ORDER BY order: s₁ = x₁, sᵢ = α·xᵢ + (1 − α)·sᵢ₋₁ — pandas' `Series.ewm(alpha=α, adjust=False, ignore_na=True).mean()`. A row with a NULL argument yields NULL and leaves the average unchanged. The frame is ignored. α must be in (0, 1].",
    syntax_example = "ewma(value, alpha) OVER (PARTITION BY ... ORDER BY time)",
    sql_example = r#"```sql
> SELECT i, ewma(v, 0.5) OVER (ORDER BY i) AS s
  FROM (VALUES (1, 1.0), (2, 3.0), (3, 3.0), (4, 7.0)) AS t(i, v) ORDER BY i;
+---+------+
| i | s    |
+---+------+
| 1 | 1.0  |
| 2 | 2.0  |
| 3 | 2.5  |
| 4 | 4.75 |
+---+------+
```"#,
    argument(name = "value", description = "Observations, any numeric type."),
    argument(
        name = "alpha",
        description = "Smoothing factor in (0, 1]; 1 returns the values themselves."
    ),
    related_udf(name = "cusum")
)]
/// The `ewma` window function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Ewma {
    signature: Signature,
}

impl Default for Ewma {
    fn default() -> Self {
        Self::new()
    }
}

impl Ewma {
    /// Creates the function with its signature `(double, double) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![float64_coercion(); 2], Volatility::Immutable),
        }
    }
}

impl WindowUDFImpl for Ewma {
    fn name(&self) -> &str {
        "ewma"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(EwmaEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Float64,
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Evaluates a whole partition in order.
#[derive(Debug)]
struct EwmaEvaluator;

impl PartitionEvaluator for EwmaEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let x = as_float64(&values[0])?;
        let alpha = as_float64(&values[1])?;
        let nulls = union_nulls(&[&x, &alpha]);
        let s = ewma(x.values(), alpha.values(), nulls.as_ref())?;
        Ok(Arc::new(Float64Array::new(s.into(), nulls)))
    }
}

/// The running average after each row; rows invalid in `nulls` are skipped.
fn ewma(x: &[f64], alpha: &[f64], nulls: Option<&NullBuffer>) -> Result<Vec<f64>> {
    let mut state: Option<f64> = None;
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        if nulls.is_none_or(|n| n.is_valid(i)) {
            let a = alpha[i];
            if !(a > 0.0 && a <= 1.0) {
                return exec_err!("ewma: alpha must be in (0, 1], got {a}");
            }
            state = Some(match state {
                None => x[i],
                Some(s) => a * x[i] + (1.0 - a) * s,
            });
        }
        out.push(state.unwrap_or(0.0));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursion() {
        assert_eq!(
            ewma(&[1.0, 3.0, 3.0, 7.0], &[0.5; 4], None).unwrap(),
            vec![1.0, 2.0, 2.5, 4.75]
        );
        assert_eq!(ewma(&[1.0, 3.0], &[1.0; 2], None).unwrap(), vec![1.0, 3.0]);
    }

    #[test]
    fn nulls_are_skipped() {
        let nulls = NullBuffer::from(vec![false, true, false, true]);
        let s = ewma(&[9.0, 2.0, 9.0, 4.0], &[0.5; 4], Some(&nulls)).unwrap();
        assert_eq!(s[1], 2.0);
        assert_eq!(s[3], 3.0);
    }

    #[test]
    fn alpha_is_validated() {
        for a in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(ewma(&[1.0], &[a], None).is_err(), "{a}");
        }
    }
}
