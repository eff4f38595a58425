//! `mad(value)`: median absolute deviation.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::robust::median_and_mad;
use crate::common::{as_float64, float64_coercion};

#[user_doc(
    doc_section(label = "ALMA Fault Detection Functions"),
    description = "Median absolute deviation of the non-NULL values: median(|x − median(x)|), unscaled (multiply by 1.4826 for a normal-consistent standard deviation). Medians of an even count are the mean of the two middle values, as numpy's. NULL for no rows; NaN when a value is NaN.",
    syntax_example = "mad(value)",
    sql_example = r#"```sql
> SELECT mad(v) AS mad FROM (VALUES (1.0), (1.0), (2.0), (2.0), (4.0), (6.0), (9.0)) AS t(v);
+-----+
| mad |
+-----+
| 1.0 |
+-----+
```"#,
    argument(name = "value", description = "Values, any numeric type."),
    related_udf(name = "robust_zscore")
)]
/// The `mad` aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Mad {
    signature: Signature,
}

impl Default for Mad {
    fn default() -> Self {
        Self::new()
    }
}

impl Mad {
    /// Creates the function with its signature `(double) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![float64_coercion()], Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for Mad {
    fn name(&self) -> &str {
        "mad"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<MadAccumulator>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new_list(
            format_state_name(args.name, "values"),
            Field::new_list_field(DataType::Float64, true),
            true,
        ))])
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(None))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Collects the non-NULL values of a group.
#[derive(Debug, Default)]
struct MadAccumulator {
    values: Vec<f64>,
}

impl Accumulator for MadAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = as_float64(&values[0])?;
        self.values.extend(array.iter().flatten());
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut scratch = self.values.clone();
        Ok(ScalarValue::Float64(
            median_and_mad(&mut scratch).map(|(_, mad)| mad),
        ))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.values.capacity() * size_of::<f64>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Float64Array::from(self.values.clone());
        Ok(vec![
            SingleRowListArrayBuilder::new(Arc::new(values)).build_list_scalar(),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(lists) = states[0].as_list_opt::<i32>() else {
            return exec_err!("mad: expected a list state, got {}", states[0].data_type());
        };
        for list in lists.iter().flatten() {
            self.values
                .extend(list.as_primitive::<Float64Type>().iter().flatten());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulates_merges_and_skips_nulls() {
        let mut a = MadAccumulator::default();
        let batch: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), None, Some(9.0)]));
        a.update_batch(&[batch]).unwrap();
        let mut b = MadAccumulator::default();
        let batch: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 2.0, 4.0, 6.0]));
        b.update_batch(&[batch]).unwrap();
        let state = b.state().unwrap()[0].to_array().unwrap();
        a.merge_batch(&[state]).unwrap();
        assert_eq!(a.evaluate().unwrap(), ScalarValue::Float64(Some(1.0)));
    }

    #[test]
    fn empty_is_null() {
        let mut a = MadAccumulator::default();
        assert_eq!(a.evaluate().unwrap(), ScalarValue::Float64(None));
    }
}
