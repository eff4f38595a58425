//! `drift_slope(value, time)`: least-squares drift rate per day.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBufferBuilder, Float64Array, UInt64Array,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_float64_array, as_uint64_array};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::common::{Ticks, as_float64, float64_coercion, ticks_per_day, timestamp_coercion};

#[user_doc(
    doc_section(label = "ALMA Fault Detection Functions"),
    description = "Least-squares slope of `value` against `time`, in value units per day: the drift rate of a monitor point (e.g. an IF-processor total power or LO2 lock voltage). Rows where either argument is NULL are skipped. NULL for fewer than two rows or when all times are equal. Same estimator as `regr_slope(value, epoch_days)`, computed with Welford/Chan updates (numerically stable for timestamps), with a grouped fast path for GROUP BY and retraction for sliding window frames.",
    syntax_example = "drift_slope(value, time)",
    sql_example = r#"```sql
> SELECT antenna, drift_slope(v, t) AS per_day
  FROM (VALUES ('DA41', 1.0, TIMESTAMP '2024-01-01 00:00:00'),
               ('DA41', 1.5, TIMESTAMP '2024-01-01 12:00:00'),
               ('DA41', 2.0, TIMESTAMP '2024-01-02 00:00:00'),
               ('DV02', 5.0, TIMESTAMP '2024-01-01 00:00:00'),
               ('DV02', 4.0, TIMESTAMP '2024-01-03 00:00:00')) AS m(antenna, v, t)
  GROUP BY antenna ORDER BY antenna;
+---------+---------+
| antenna | per_day |
+---------+---------+
| DA41    | 1.0     |
| DV02    | -0.5    |
+---------+---------+
```"#,
    argument(name = "value", description = "Monitor value, any numeric type."),
    argument(
        name = "time",
        description = "Sample time: a timestamp of any precision, with or without a time zone."
    ),
    related_udf(name = "changepoint_time")
)]
/// The `drift_slope` aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DriftSlope {
    signature: Signature,
}

impl Default for DriftSlope {
    fn default() -> Self {
        Self::new()
    }
}

impl DriftSlope {
    /// Creates the function with its signature `(double, timestamp) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(
                vec![float64_coercion(), timestamp_coercion()],
                Volatility::Immutable,
            ),
        }
    }
}

impl AggregateUDFImpl for DriftSlope {
    fn name(&self) -> &str {
        "drift_slope"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<DriftSlopeAccumulator>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let field = |state: &str, data_type: DataType| -> FieldRef {
            Arc::new(Field::new(
                format_state_name(args.name, state),
                data_type,
                true,
            ))
        };
        Ok(vec![
            field("count", DataType::UInt64),
            field("mean_x", DataType::Float64),
            field("mean_y", DataType::Float64),
            field("m2_x", DataType::Float64),
            field("c_xy", DataType::Float64),
        ])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::<DriftSlopeGroupsAccumulator>::default())
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(None))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Running count, means, `Σ(x − x̄)²` and `Σ(x − x̄)(y − ȳ)` of `(x, y)`
/// pairs (Welford's online update, Chan's parallel merge).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Moments {
    n: u64,
    mean_x: f64,
    mean_y: f64,
    m2_x: f64,
    c_xy: f64,
}

impl Moments {
    /// Adds one pair.
    #[inline]
    pub(crate) fn update(&mut self, x: f64, y: f64) {
        self.n += 1;
        let inv = 1.0 / self.n as f64;
        let dx = x - self.mean_x;
        self.mean_x += dx * inv;
        self.mean_y += (y - self.mean_y) * inv;
        self.m2_x += dx * (x - self.mean_x);
        self.c_xy += dx * (y - self.mean_y);
    }

    /// Removes a pair previously added.
    #[inline]
    pub(crate) fn retract(&mut self, x: f64, y: f64) {
        if self.n <= 1 {
            *self = Self::default();
            return;
        }
        self.n -= 1;
        let inv = 1.0 / self.n as f64;
        let dx = x - self.mean_x;
        self.mean_x -= dx * inv;
        self.mean_y -= (y - self.mean_y) * inv;
        self.m2_x -= dx * (x - self.mean_x);
        self.c_xy -= dx * (y - self.mean_y);
    }

    /// Merges the moments of another set of pairs.
    #[inline]
    pub(crate) fn merge(&mut self, other: &Self) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let (na, nb, nf) = (self.n as f64, other.n as f64, n as f64);
        let dx = other.mean_x - self.mean_x;
        let dy = other.mean_y - self.mean_y;
        self.mean_x += dx * nb / nf;
        self.mean_y += dy * nb / nf;
        self.m2_x += other.m2_x + dx * dx * na * nb / nf;
        self.c_xy += other.c_xy + dx * dy * na * nb / nf;
        self.n = n;
    }

    /// The least-squares slope, `None` for fewer than two distinct x.
    #[inline]
    pub(crate) fn slope(&self) -> Option<f64> {
        (self.n >= 2 && self.m2_x > 0.0).then(|| self.c_xy / self.m2_x)
    }
}

/// The `(value, time)` arguments as `y` values and `x` days plus validity.
struct Inputs {
    y: Float64Array,
    ticks: Ticks,
    inv_per_day: f64,
    nulls: Option<NullBuffer>,
}

impl Inputs {
    fn try_new(values: &[ArrayRef], filter: Option<&BooleanArray>) -> Result<Self> {
        let y = as_float64(&values[0])?;
        let ticks = Ticks::try_new(&values[1])?;
        let inv_per_day = 1.0 / ticks_per_day(ticks.unit) as f64;
        let filter_nulls = filter.map(filter_to_nulls);
        let nulls =
            NullBuffer::union_many([y.nulls(), ticks.values.nulls(), filter_nulls.as_ref()]);
        Ok(Self {
            y,
            ticks,
            inv_per_day,
            nulls,
        })
    }

    #[inline]
    fn is_valid(&self, i: usize) -> bool {
        self.nulls.as_ref().is_none_or(|n| n.is_valid(i))
    }

    #[inline]
    fn x(&self, i: usize) -> f64 {
        self.ticks.values.values()[i] as f64 * self.inv_per_day
    }

    #[inline]
    fn y(&self, i: usize) -> f64 {
        self.y.values()[i]
    }
}

/// Rows where `filter` is true (not false, not NULL) as a validity mask.
fn filter_to_nulls(filter: &BooleanArray) -> NullBuffer {
    let values = match filter.nulls() {
        Some(nulls) => filter.values() & nulls.inner(),
        None => filter.values().clone(),
    };
    NullBuffer::new(values)
}

/// Accumulator for one group (and for window frames, with retraction).
#[derive(Debug, Default)]
struct DriftSlopeAccumulator {
    moments: Moments,
}

impl Accumulator for DriftSlopeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let inputs = Inputs::try_new(values, None)?;
        for i in 0..inputs.y.len() {
            if inputs.is_valid(i) {
                self.moments.update(inputs.x(i), inputs.y(i));
            }
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let inputs = Inputs::try_new(values, None)?;
        for i in 0..inputs.y.len() {
            if inputs.is_valid(i) {
                self.moments.retract(inputs.x(i), inputs.y(i));
            }
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.moments.slope()))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let m = self.moments;
        Ok(vec![
            ScalarValue::UInt64(Some(m.n)),
            ScalarValue::Float64(Some(m.mean_x)),
            ScalarValue::Float64(Some(m.mean_y)),
            ScalarValue::Float64(Some(m.m2_x)),
            ScalarValue::Float64(Some(m.c_xy)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let states = StateArrays::try_new(states)?;
        for i in 0..states.n.len() {
            self.moments.merge(&states.get(i));
        }
        Ok(())
    }
}

/// The five state columns of `drift_slope`.
struct StateArrays<'a> {
    n: &'a UInt64Array,
    mean_x: &'a Float64Array,
    mean_y: &'a Float64Array,
    m2_x: &'a Float64Array,
    c_xy: &'a Float64Array,
}

impl<'a> StateArrays<'a> {
    fn try_new(states: &'a [ArrayRef]) -> Result<Self> {
        Ok(Self {
            n: as_uint64_array(&states[0])?,
            mean_x: as_float64_array(&states[1])?,
            mean_y: as_float64_array(&states[2])?,
            m2_x: as_float64_array(&states[3])?,
            c_xy: as_float64_array(&states[4])?,
        })
    }

    /// The moments in row `i`; a NULL count is an empty state.
    #[inline]
    fn get(&self, i: usize) -> Moments {
        if self.n.is_null(i) {
            return Moments::default();
        }
        Moments {
            n: self.n.value(i),
            mean_x: self.mean_x.value(i),
            mean_y: self.mean_y.value(i),
            m2_x: self.m2_x.value(i),
            c_xy: self.c_xy.value(i),
        }
    }
}

/// Builds the five state columns from moments.
fn state_arrays(moments: &[Moments]) -> Vec<ArrayRef> {
    let col = |f: fn(&Moments) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(moments.iter().map(f)))
    };
    vec![
        Arc::new(UInt64Array::from_iter_values(moments.iter().map(|m| m.n))),
        col(|m| m.mean_x),
        col(|m| m.mean_y),
        col(|m| m.m2_x),
        col(|m| m.c_xy),
    ]
}

/// Grouped fast path: one [`Moments`] per group, updated in place.
#[derive(Debug, Default)]
struct DriftSlopeGroupsAccumulator {
    groups: Vec<Moments>,
}

impl GroupsAccumulator for DriftSlopeGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize(total_num_groups, Moments::default());
        let inputs = Inputs::try_new(values, opt_filter)?;
        let ticks = inputs.ticks.values.values();
        let ys = inputs.y.values();
        let scale = inputs.inv_per_day;
        match &inputs.nulls {
            None => {
                for ((&g, &t), &y) in group_indices.iter().zip(ticks.iter()).zip(ys.iter()) {
                    self.groups[g].update(t as f64 * scale, y);
                }
            }
            Some(nulls) => {
                for i in nulls.valid_indices() {
                    self.groups[group_indices[i]].update(ticks[i] as f64 * scale, ys[i]);
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        let mut validity = BooleanBufferBuilder::new(groups.len());
        let values = groups
            .iter()
            .map(|m| {
                let slope = m.slope();
                validity.append(slope.is_some());
                slope.unwrap_or(0.0)
            })
            .collect::<Vec<_>>();
        Ok(Arc::new(Float64Array::new(
            values.into(),
            Some(NullBuffer::new(validity.finish())),
        )))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = emit_to.take_needed(&mut self.groups);
        Ok(state_arrays(&groups))
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize(total_num_groups, Moments::default());
        let states = StateArrays::try_new(values)?;
        for (i, &g) in group_indices.iter().enumerate() {
            self.groups[g].merge(&states.get(i));
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let inputs = Inputs::try_new(values, opt_filter)?;
        let moments = (0..inputs.y.len())
            .map(|i| {
                let mut m = Moments::default();
                if inputs.is_valid(i) {
                    m.update(inputs.x(i), inputs.y(i));
                }
                m
            })
            .collect::<Vec<_>>();
        Ok(state_arrays(&moments))
    }

    fn size(&self) -> usize {
        self.groups.capacity() * size_of::<Moments>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::array::TimestampSecondArray;
    use datafusion::arrow::datatypes::Float64Type;

    fn least_squares(points: &[(f64, f64)]) -> f64 {
        let n = points.len() as f64;
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        sxy / sxx
    }

    #[test]
    fn welford_matches_two_pass() {
        let points: Vec<(f64, f64)> = (0..50)
            .map(|i| {
                (
                    19_700.0 + i as f64 * 0.01,
                    (i * i % 7) as f64 - 0.3 * i as f64,
                )
            })
            .collect();
        let mut m = Moments::default();
        points.iter().for_each(|&(x, y)| m.update(x, y));
        let expected = least_squares(&points);
        assert!((m.slope().unwrap() - expected).abs() < 1e-9 * expected.abs().max(1.0));
    }

    #[test]
    fn merge_equals_sequential() {
        let points: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, (i as f64).sin())).collect();
        let mut all = Moments::default();
        points.iter().for_each(|&(x, y)| all.update(x, y));
        let (mut a, mut b) = (Moments::default(), Moments::default());
        points[..7].iter().for_each(|&(x, y)| a.update(x, y));
        points[7..].iter().for_each(|&(x, y)| b.update(x, y));
        a.merge(&b);
        assert_eq!(a.n, all.n);
        assert!((a.slope().unwrap() - all.slope().unwrap()).abs() < 1e-12);
        let mut empty = Moments::default();
        empty.merge(&all);
        assert_eq!(empty, all);
    }

    #[test]
    fn retract_undoes_update() {
        let mut m = Moments::default();
        for (x, y) in [(0.0, 1.0), (1.0, 3.0), (2.0, 2.0), (3.0, 7.0)] {
            m.update(x, y);
        }
        m.retract(0.0, 1.0);
        let expected = least_squares(&[(1.0, 3.0), (2.0, 2.0), (3.0, 7.0)]);
        assert!((m.slope().unwrap() - expected).abs() < 1e-12);
        m.retract(1.0, 3.0);
        m.retract(2.0, 2.0);
        assert_eq!(m.slope(), None);
        m.retract(3.0, 7.0);
        assert_eq!(m, Moments::default());
    }

    #[test]
    fn degenerate_inputs_have_no_slope() {
        let mut m = Moments::default();
        assert_eq!(m.slope(), None);
        m.update(5.0, 1.0);
        assert_eq!(m.slope(), None);
        m.update(5.0, 2.0);
        assert_eq!(m.slope(), None);
    }

    #[test]
    fn groups_accumulator_skips_nulls_and_filtered_rows() {
        let y: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(2.0),
            None,
            Some(9.0),
            Some(1.0),
        ]));
        let t: ArrayRef = Arc::new(TimestampSecondArray::from(vec![
            Some(0),
            Some(86_400),
            Some(3 * 86_400),
            Some(4 * 86_400),
            None,
        ]));
        let filter = BooleanArray::from(vec![
            Some(true),
            Some(true),
            Some(true),
            Some(false),
            Some(true),
        ]);
        let mut acc = DriftSlopeGroupsAccumulator::default();
        acc.update_batch(&[y, t], &[0, 0, 0, 0, 1], Some(&filter), 2)
            .unwrap();
        let out = acc.evaluate(EmitTo::All).unwrap();
        let out = out.as_primitive::<Float64Type>();
        assert_eq!(out.value(0), 2.0);
        assert!(out.is_null(1));
    }

    #[test]
    fn groups_state_roundtrips_through_merge() {
        let y: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 4.0, 3.0]));
        let t: ArrayRef = Arc::new(TimestampSecondArray::from(vec![0, 86_400, 0, 86_400]));
        let mut partial = DriftSlopeGroupsAccumulator::default();
        partial
            .update_batch(&[y.clone(), t.clone()], &[0, 0, 1, 1], None, 2)
            .unwrap();
        let state = partial.state(EmitTo::All).unwrap();
        let converted = partial.convert_to_state(&[y, t], None).unwrap();
        let mut fin = DriftSlopeGroupsAccumulator::default();
        fin.merge_batch(&state, &[1, 0], 2).unwrap();
        fin.merge_batch(&converted, &[1, 1, 0, 0], 2).unwrap();
        let out = fin.evaluate(EmitTo::All).unwrap();
        let out = out.as_primitive::<Float64Type>();
        // Final group 0 holds (0,4),(1,3) twice: −1 per day; group 1 holds
        // (0,1),(1,2) twice: +1 per day.
        assert!((out.value(0) + 1.0).abs() < 1e-12);
        assert!((out.value(1) - 1.0).abs() < 1e-12);
    }
}
