//! `pairwise_pct_variation(value ORDER BY ...)`: the ALMA notebook's
//! `per_var` statistic.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, AsArray, BinaryArray, Float64Array, Int64Array, StructArray,
};
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::{AggregateOrderSensitivity, format_state_name};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::common::{as_float64, float64_coercion};

#[user_doc(
    doc_section(label = "ALMA Fault Detection Functions"),
    description = "Exactly the ALMA notebook's `per_var`: for every pair (a, b) of values in input order — as Python's `itertools.combinations(values, 2)`, a before b — the term abs(100·a / (b − 100)); returns the struct {mean, pairs} with the mean of the terms and their count n·(n − 1)/2. Give the order with `ORDER BY` inside the call (without it the order is unspecified). NULL values are skipped; mean is NULL with fewer than two values. Floating-point rules as numpy: b = 100 gives an infinite term (NaN when a = 0). Runs in O(n log n): the terms factor as 100·|a| / |b − 100|.",
    syntax_example = "pairwise_pct_variation(value ORDER BY time)",
    sql_example = r#"```sql
> SELECT p['mean'] AS mean, p['pairs'] AS pairs
  FROM (SELECT pairwise_pct_variation(v ORDER BY t) AS p
        FROM (VALUES (3, 200.0), (1, 50.0), (2, 150.0)) AS m(t, v));
+-------+-------+
| mean  | pairs |
+-------+-------+
| 100.0 | 3     |
+-------+-------+
```"#,
    argument(name = "value", description = "Values, any numeric type.")
)]
/// The `pairwise_pct_variation` aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PairwisePctVariation {
    signature: Signature,
}

impl Default for PairwisePctVariation {
    fn default() -> Self {
        Self::new()
    }
}

impl PairwisePctVariation {
    /// Creates the function with its signature
    /// `(double) -> struct<mean double, pairs bigint>`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![float64_coercion()], Volatility::Immutable),
        }
    }

    fn fields() -> Fields {
        Fields::from(vec![
            Field::new("mean", DataType::Float64, true),
            Field::new("pairs", DataType::Int64, false),
        ])
    }
}

impl AggregateUDFImpl for PairwisePctVariation {
    fn name(&self) -> &str {
        "pairwise_pct_variation"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(Self::fields()))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let sort_fields = args
            .order_bys
            .iter()
            .map(|e| {
                Ok(SortField::new_with_options(
                    e.expr.data_type(args.schema)?,
                    e.options,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let converter = if sort_fields.is_empty() {
            None
        } else {
            Some(RowConverter::new(sort_fields)?)
        };
        Ok(Box::new(PairwiseAccumulator {
            values: Vec::new(),
            keys: Vec::new(),
            converter,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |state: &str, item: DataType| -> FieldRef {
            Arc::new(Field::new_list(
                format_state_name(args.name, state),
                Field::new_list_field(item, true),
                true,
            ))
        };
        // Ordering keys travel as arrow row-format bytes, which compare as
        // the ORDER BY does.
        Ok(vec![
            list("values", DataType::Float64),
            list("order_keys", DataType::Binary),
        ])
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::HardRequirement
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(result_scalar(None, 0))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Collects values with their ORDER BY keys.
#[derive(Debug)]
struct PairwiseAccumulator {
    values: Vec<f64>,
    /// Row-format ORDER BY key of each value; empty without ORDER BY.
    keys: Vec<Vec<u8>>,
    converter: Option<RowConverter>,
}

impl Accumulator for PairwiseAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let value = as_float64(&values[0])?;
        let keep = datafusion::arrow::compute::is_not_null(&value)?;
        let kept = filter(&value, &keep)?;
        self.values
            .extend(kept.as_primitive::<Float64Type>().values().iter());
        if let Some(converter) = &self.converter {
            let orderings = values[1..]
                .iter()
                .map(|o| filter(o, &keep))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let rows = converter.convert_columns(&orderings)?;
            self.keys.extend(rows.iter().map(|r| r.as_ref().to_vec()));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let ordered: Vec<f64> = if self.converter.is_some() {
            let mut index: Vec<usize> = (0..self.values.len()).collect();
            // Stable: equal keys keep their arrival order.
            index.sort_by(|&a, &b| self.keys[a].cmp(&self.keys[b]));
            index.iter().map(|&i| self.values[i]).collect()
        } else {
            self.values.clone()
        };
        let (mean, pairs) = per_var(&ordered);
        Ok(result_scalar(mean, pairs))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
            + self.values.capacity() * size_of::<f64>()
            + self
                .keys
                .iter()
                .map(|k| k.capacity() + size_of::<Vec<u8>>())
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Float64Array::from(self.values.clone());
        let keys = BinaryArray::from_iter_values(self.keys.iter());
        Ok(vec![
            SingleRowListArrayBuilder::new(Arc::new(values)).build_list_scalar(),
            SingleRowListArrayBuilder::new(Arc::new(keys)).build_list_scalar(),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(values), Some(keys)) = (
            states[0].as_list_opt::<i32>(),
            states[1].as_list_opt::<i32>(),
        ) else {
            return exec_err!("pairwise_pct_variation: expected list states");
        };
        for (v, k) in values.iter().zip(keys.iter()) {
            let Some(v) = v else { continue };
            self.values
                .extend(v.as_primitive::<Float64Type>().values().iter());
            if self.converter.is_some() {
                let Some(k) = k else {
                    return exec_err!("pairwise_pct_variation: missing ordering keys");
                };
                self.keys.extend(
                    k.as_binary::<i32>()
                        .iter()
                        .map(|b| b.unwrap_or_default().to_vec()),
                );
            }
        }
        Ok(())
    }
}

/// The `{mean, pairs}` struct scalar.
fn result_scalar(mean: Option<f64>, pairs: i64) -> ScalarValue {
    let array = StructArray::new(
        PairwisePctVariation::fields(),
        vec![
            Arc::new(Float64Array::from(vec![mean])),
            Arc::new(Int64Array::from(vec![pairs])),
        ],
        None,
    );
    ScalarValue::Struct(Arc::new(array))
}

/// Mean and count of `abs(100 * a / (b - 100))` over all pairs `a` before
/// `b`, in O(n): the pair term factors into `100 |a| / |b − 100|`, so each
/// `b` contributes `100 / |b − 100|` times the sum of `|a|` before it.
fn per_var(values: &[f64]) -> (Option<f64>, i64) {
    let n = values.len() as i64;
    let pairs = n * (n - 1) / 2;
    if pairs == 0 {
        return (None, 0);
    }
    let mut abs_sum = 0.0; // Σ|a| over the values before b
    let mut zeros = 0_u64; // count of a == 0 before b
    let mut total = 0.0;
    for (j, &b) in values.iter().enumerate() {
        if j > 0 {
            let denominator = (b - 100.0).abs();
            total += if denominator == 0.0 {
                // numpy: 100·a / 0 is ±inf, and 0 / 0 is NaN.
                if zeros > 0 { f64::NAN } else { f64::INFINITY }
            } else {
                100.0 * abs_sum / denominator
            };
        }
        abs_sum += b.abs();
        zeros += u64::from(b == 0.0);
    }
    (Some(total / pairs as f64), pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The notebook's definition, literally.
    fn per_var_literal(values: &[f64]) -> f64 {
        let mut terms = Vec::new();
        for i in 0..values.len() {
            for j in i + 1..values.len() {
                terms.push((100.0 * values[i] / (values[j] - 100.0)).abs());
            }
        }
        terms.iter().sum::<f64>() / terms.len() as f64
    }

    #[test]
    fn matches_the_quadratic_definition() {
        let values: Vec<f64> = (0..30)
            .map(|i| 40.0 + ((i * 17) % 23) as f64 * 3.7 - i as f64)
            .collect();
        let (mean, pairs) = per_var(&values);
        assert_eq!(pairs, 435);
        let expected = per_var_literal(&values);
        assert!((mean.unwrap() - expected).abs() <= 1e-12 * expected.abs());
    }

    #[test]
    fn order_matters() {
        // (50,150): 100, (50,200): 50, (150,200): 150 → 100.
        assert_eq!(per_var(&[50.0, 150.0, 200.0]), (Some(100.0), 3));
        // (200,150): 400, (200,50): 400, (150,50): 300 → 1100/3.
        let (reversed, _) = per_var(&[200.0, 150.0, 50.0]);
        assert!((reversed.unwrap() - 1100.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn small_and_special_cases() {
        assert_eq!(per_var(&[]), (None, 0));
        assert_eq!(per_var(&[5.0]), (None, 0));
        assert_eq!(per_var(&[5.0, 100.0]).0, Some(f64::INFINITY));
        assert!(per_var(&[0.0, 100.0]).0.unwrap().is_nan());
        assert!(per_var(&[1.0, f64::NAN]).0.unwrap().is_nan());
    }
}
