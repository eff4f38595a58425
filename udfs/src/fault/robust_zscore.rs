//! `robust_zscore(value)`: median/MAD z-score over the window partition.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion_macros::user_doc;

use super::robust::{MAD_NORMAL_SCALE, median_and_mad};
use crate::common::{as_float64, float64_coercion, float64_finite};

#[user_doc(
    doc_section(label = "ALMA Fault Detection Functions"),
    description = "Window function: robust z-score (x − median) / (1.4826 · MAD) of each row against the non-NULL values of its whole window partition (the frame is ignored), to compare a channel with its peers. NULL for NULL rows and when the partition's MAD is 0.",
    syntax_example = "robust_zscore(value) OVER (PARTITION BY ...)",
    sql_example = r#"```sql
> SELECT ch, robust_zscore(v) OVER () AS z
  FROM (VALUES (1, 1.0), (2, 1.0), (3, 2.0), (4, 2.0), (5, 4.0), (6, 6.0), (7, 9.0)) AS t(ch, v)
  ORDER BY ch;
+----+---------------------+
| ch | z                   |
+----+---------------------+
| 1  | -0.6744907594765952 |
| 2  | -0.6744907594765952 |
| 3  | 0.0                 |
| 4  | 0.0                 |
| 5  | 1.3489815189531904  |
| 6  | 2.697963037906381   |
| 7  | 4.721435316336167   |
+----+---------------------+
```"#,
    argument(name = "value", description = "Values, any numeric type."),
    related_udf(name = "mad")
)]
/// The `robust_zscore` window function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RobustZscore {
    signature: Signature,
}

impl Default for RobustZscore {
    fn default() -> Self {
        Self::new()
    }
}

impl RobustZscore {
    /// Creates the function with its signature `(double) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![float64_coercion()], Volatility::Immutable),
        }
    }
}

impl WindowUDFImpl for RobustZscore {
    fn name(&self) -> &str {
        "robust_zscore"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(RobustZscoreEvaluator))
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

/// Evaluates a whole partition at once.
#[derive(Debug)]
struct RobustZscoreEvaluator;

impl PartitionEvaluator for RobustZscoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let x = as_float64(&values[0])?;
        Ok(Arc::new(robust_zscores(&x)))
    }
}

/// The robust z-score of every value of `x` against all of `x`.
fn robust_zscores(x: &Float64Array) -> Float64Array {
    let mut scratch: Vec<f64> = x.iter().flatten().collect();
    let scores = match median_and_mad(&mut scratch) {
        Some((median, mad)) if mad > 0.0 => {
            let scale = 1.0 / (MAD_NORMAL_SCALE * mad);
            x.values().iter().map(|v| (v - median) * scale).collect()
        }
        _ => vec![f64::NAN; x.len()],
    };
    float64_finite(scores, x.nulls())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_against_the_partition() {
        let x = Float64Array::from(vec![
            Some(1.0),
            Some(1.0),
            Some(2.0),
            None,
            Some(2.0),
            Some(4.0),
            Some(6.0),
            Some(9.0),
        ]);
        let z = robust_zscores(&x);
        assert!(z.is_null(3));
        assert_eq!(z.value(2), 0.0);
        assert!((z.value(7) - 7.0 / 1.4826).abs() < 1e-12);
        assert!((z.value(0) + 1.0 / 1.4826).abs() < 1e-12);
    }

    #[test]
    fn zero_mad_and_empty_partitions_are_null() {
        let z = robust_zscores(&Float64Array::from(vec![3.0, 3.0, 3.0, 8.0]));
        assert_eq!(z.null_count(), 4);
        let z = robust_zscores(&Float64Array::from(vec![None::<f64>, None]));
        assert_eq!(z.null_count(), 2);
    }
}
