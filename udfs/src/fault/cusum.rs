//! `cusum(value, target, k)`: tabular CUSUM over ordered rows.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion_macros::user_doc;

use crate::common::{as_float64, float64_coercion, union_nulls};

#[user_doc(
    doc_section(label = "ALMA Fault Detection Functions"),
    description = "Window function: the two one-sided tabular CUSUM statistics (Page 1954; Montgomery, Introduction to Statistical Quality Control, §9.1) over the partition's rows in ORDER BY order, starting from 0: upper = max(0, upper + x − (target + k)), lower = max(0, lower + (target − k) − x). Returns a struct {upper, lower}; signal a shift when either exceeds a decision interval h (typically 4–5 σ, with k = σ/2). A row with a NULL argument yields NULL and leaves the statistics unchanged. The frame is ignored. k must be ≥ 0.",
    syntax_example = "cusum(value, target, k) OVER (PARTITION BY ... ORDER BY time)",
    sql_example = r#"```sql
> SELECT i, round(c['upper'], 6) AS upper, round(c['lower'], 6) AS lower
  FROM (SELECT i, cusum(v, 10.0, 0.5) OVER (ORDER BY i) AS c
        FROM (VALUES (1, 10.2), (2, 9.9), (3, 11.0), (4, 11.4), (5, 8.0)) AS t(i, v))
  ORDER BY i;
+---+-------+-------+
| i | upper | lower |
+---+-------+-------+
| 1 | 0.0   | 0.0   |
| 2 | 0.0   | 0.0   |
| 3 | 0.5   | 0.0   |
| 4 | 1.4   | 0.0   |
| 5 | 0.0   | 1.5   |
+---+-------+-------+
```"#,
    argument(name = "value", description = "Observations, any numeric type."),
    argument(name = "target", description = "In-control mean μ₀."),
    argument(
        name = "k",
        description = "Allowance (slack), ≥ 0, usually half the shift to detect."
    ),
    related_udf(name = "ewma")
)]
/// The `cusum` window function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Cusum {
    signature: Signature,
}

impl Default for Cusum {
    fn default() -> Self {
        Self::new()
    }
}

impl Cusum {
    /// Creates the function with its signature
    /// `(double, double, double) -> struct<upper double, lower double>`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![float64_coercion(); 3], Volatility::Immutable),
        }
    }

    fn fields() -> Fields {
        Fields::from(vec![
            Field::new("upper", DataType::Float64, true),
            Field::new("lower", DataType::Float64, true),
        ])
    }
}

impl WindowUDFImpl for Cusum {
    fn name(&self) -> &str {
        "cusum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(CusumEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Struct(Self::fields()),
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Evaluates a whole partition in order.
#[derive(Debug)]
struct CusumEvaluator;

impl PartitionEvaluator for CusumEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let x = as_float64(&values[0])?;
        let target = as_float64(&values[1])?;
        let k = as_float64(&values[2])?;
        let nulls = union_nulls(&[&x, &target, &k]);
        let (upper, lower) = cusum(x.values(), target.values(), k.values(), nulls.as_ref())?;
        let struct_array = StructArray::try_new(
            Cusum::fields(),
            vec![
                Arc::new(Float64Array::new(upper.into(), nulls.clone())),
                Arc::new(Float64Array::new(lower.into(), nulls.clone())),
            ],
            nulls,
        )?;
        Ok(Arc::new(struct_array))
    }
}

/// Upper and lower CUSUM after each row; rows invalid in `nulls` are skipped.
fn cusum(
    x: &[f64],
    target: &[f64],
    k: &[f64],
    nulls: Option<&NullBuffer>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut hi, mut lo) = (0.0_f64, 0.0_f64);
    let mut upper = Vec::with_capacity(x.len());
    let mut lower = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        if nulls.is_none_or(|n| n.is_valid(i)) {
            if k[i].is_nan() || k[i] < 0.0 {
                return exec_err!("cusum: k must be >= 0, got {}", k[i]);
            }
            hi = (hi + x[i] - target[i] - k[i]).max(0.0);
            lo = (lo + target[i] - k[i] - x[i]).max(0.0);
        }
        upper.push(hi);
        lower.push(lo);
    }
    Ok((upper, lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn montgomery_style_sequence() {
        let x = [10.2, 9.9, 11.0, 11.4, 8.0];
        let (u, l) = cusum(&x, &[10.0; 5], &[0.5; 5], None).unwrap();
        let expected_u = [0.0, 0.0, 0.5, 1.4, 0.0];
        let expected_l = [0.0, 0.0, 0.0, 0.0, 1.5];
        for i in 0..5 {
            assert!((u[i] - expected_u[i]).abs() < 1e-12, "{i}: {}", u[i]);
            assert!((l[i] - expected_l[i]).abs() < 1e-12, "{i}: {}", l[i]);
        }
    }

    #[test]
    fn null_rows_keep_the_statistic() {
        let nulls = NullBuffer::from(vec![true, false, true]);
        let (u, _) = cusum(&[12.0, 100.0, 12.0], &[10.0; 3], &[0.0; 3], Some(&nulls)).unwrap();
        assert_eq!(u, vec![2.0, 2.0, 4.0]);
    }

    #[test]
    fn negative_or_nan_k_is_an_error() {
        assert!(cusum(&[1.0], &[0.0], &[-1.0], None).is_err());
        assert!(cusum(&[1.0], &[0.0], &[f64::NAN], None).is_err());
    }
}
