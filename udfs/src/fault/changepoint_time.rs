//! `changepoint_time(value, time)`: time of the most likely shift in mean.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::common::{
    Ticks, UTC, as_float64, float64_coercion, timestamp_coercion, utc_timestamp_type,
};

#[user_doc(
    doc_section(label = "ALMA Fault Detection Functions"),
    description = "Time of the most likely single shift in the mean of `value`, to say when a degradation began. Rows are ordered by time; for every split into a before and an after segment the statistic S²·n / (k·(n − k)) is computed, S being the CUSUM of deviations from the overall mean after the first k rows — the Gaussian likelihood-ratio (least-squares) change point of Hinkley (1970), equivalently the split minimising the two segments' squared error. Returns the time of the first row after the split. Rows with a NULL argument are skipped; NULL for fewer than two rows, for constant values and when a value is NaN.",
    syntax_example = "changepoint_time(value, time)",
    sql_example = r#"```sql
> SELECT changepoint_time(v, t) AS began
  FROM (VALUES (1.0, TIMESTAMP '2024-03-01 00:00:00'), (1.1, TIMESTAMP '2024-03-02 00:00:00'),
               (0.9, TIMESTAMP '2024-03-03 00:00:00'), (3.0, TIMESTAMP '2024-03-04 00:00:00'),
               (3.2, TIMESTAMP '2024-03-05 00:00:00'), (2.9, TIMESTAMP '2024-03-06 00:00:00')) AS m(v, t);
+----------------------+
| began                |
+----------------------+
| 2024-03-04T00:00:00Z |
+----------------------+
```"#,
    argument(name = "value", description = "Monitor value, any numeric type."),
    argument(
        name = "time",
        description = "Sample time: a timestamp of any precision, with or without a time zone."
    ),
    related_udf(name = "drift_slope")
)]
/// The `changepoint_time` aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChangepointTime {
    signature: Signature,
}

impl Default for ChangepointTime {
    fn default() -> Self {
        Self::new()
    }
}

impl ChangepointTime {
    /// Creates the function with its signature `(double, timestamp) -> timestamptz`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(
                vec![float64_coercion(), timestamp_coercion()],
                Volatility::Immutable,
            ),
        }
    }
}

impl AggregateUDFImpl for ChangepointTime {
    fn name(&self) -> &str {
        "changepoint_time"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(utc_timestamp_type())
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<ChangepointAccumulator>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |state: &str, item: DataType| -> FieldRef {
            Arc::new(Field::new_list(
                format_state_name(args.name, state),
                Field::new_list_field(item, true),
                true,
            ))
        };
        Ok(vec![
            list("values", DataType::Float64),
            list("micros", DataType::Int64),
        ])
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        ScalarValue::try_from(data_type)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Collects the `(micros, value)` samples of a group.
#[derive(Debug, Default)]
struct ChangepointAccumulator {
    micros: Vec<i64>,
    values: Vec<f64>,
}

impl Accumulator for ChangepointAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let value = as_float64(&values[0])?;
        let micros = Ticks::try_new(&values[1])?.to_micros()?;
        for (v, t) in value.iter().zip(micros.iter()) {
            if let (Some(v), Some(t)) = (v, t) {
                self.values.push(v);
                self.micros.push(t);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let at = changepoint(&self.micros, &self.values);
        Ok(ScalarValue::TimestampMicrosecond(at, Some(Arc::from(UTC))))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
            + self.micros.capacity() * size_of::<i64>()
            + self.values.capacity() * size_of::<f64>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Float64Array::from(self.values.clone());
        let micros = Int64Array::from(self.micros.clone());
        Ok(vec![
            SingleRowListArrayBuilder::new(Arc::new(values)).build_list_scalar(),
            SingleRowListArrayBuilder::new(Arc::new(micros)).build_list_scalar(),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(values), Some(micros)) = (
            states[0].as_list_opt::<i32>(),
            states[1].as_list_opt::<i32>(),
        ) else {
            return exec_err!("changepoint_time: expected list states");
        };
        for (v, t) in values.iter().zip(micros.iter()) {
            if let (Some(v), Some(t)) = (v, t) {
                let (v, t) = (
                    v.as_primitive::<Float64Type>(),
                    t.as_primitive::<Int64Type>(),
                );
                self.values.extend(v.values().iter());
                self.micros.extend(t.values().iter());
            }
        }
        Ok(())
    }
}

/// Time (microseconds) of the first sample after the most likely shift in
/// mean, or `None` when there is no shift to find.
fn changepoint(micros: &[i64], values: &[f64]) -> Option<i64> {
    let n = values.len();
    if n < 2 || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| {
        micros[a]
            .cmp(&micros[b])
            .then(values[a].total_cmp(&values[b]))
    });
    let mean = values.iter().sum::<f64>() / n as f64;
    let nf = n as f64;
    let mut cusum = 0.0;
    let mut best: Option<(f64, usize)> = None;
    for (k, &i) in order.iter().enumerate().take(n - 1) {
        cusum += values[i] - mean;
        let left = (k + 1) as f64;
        let stat = cusum * cusum * nf / (left * (nf - left));
        if stat > best.map_or(0.0, |(s, _)| s) {
            best = Some((stat, k + 1));
        }
    }
    // Rounding leaves a tiny positive statistic for constant data: demand a
    // shift above 1e-12 of the values' magnitude.
    let scale = values.iter().map(|v| v.abs()).fold(0.0, f64::max);
    best.filter(|(stat, _)| *stat > (scale * 1e-12).powi(2) * nf)
        .map(|(_, k)| micros[order[k]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: the split with the least two-segment squared error.
    fn least_squares_split(values: &[f64]) -> usize {
        let sse = |s: &[f64]| {
            let m = s.iter().sum::<f64>() / s.len() as f64;
            s.iter().map(|v| (v - m).powi(2)).sum::<f64>()
        };
        (1..values.len())
            .min_by(|&a, &b| {
                (sse(&values[..a]) + sse(&values[a..]))
                    .total_cmp(&(sse(&values[..b]) + sse(&values[b..])))
            })
            .unwrap()
    }

    #[test]
    fn finds_the_step() {
        let values = [1.0, 1.1, 0.9, 3.0, 3.2, 2.9];
        let micros: Vec<i64> = (0..6).map(|i| i * 1000).collect();
        assert_eq!(changepoint(&micros, &values), Some(3000));
    }

    #[test]
    fn agrees_with_brute_force_least_squares() {
        let values: Vec<f64> = (0..40)
            .map(|i| ((i * 37 % 11) as f64) * 0.1 + if i >= 23 { 0.8 } else { 0.0 })
            .collect();
        let micros: Vec<i64> = (0..40).collect();
        let k = least_squares_split(&values);
        assert_eq!(changepoint(&micros, &values), Some(k as i64));
    }

    #[test]
    fn sorts_by_time() {
        let values = [3.0, 1.0, 3.1, 1.1];
        let micros = [30, 10, 40, 20];
        assert_eq!(changepoint(&micros, &values), Some(30));
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(changepoint(&[], &[]), None);
        assert_eq!(changepoint(&[1], &[1.0]), None);
        assert_eq!(changepoint(&[1, 2, 3], &[0.1, 0.1, 0.1]), None);
        assert_eq!(changepoint(&[1, 2], &[0.1, f64::NAN]), None);
        assert_eq!(changepoint(&[1, 2], &[0.0, 1.0]), Some(2));
    }
}
