//! Shared argument coercion, per-type dispatch and time-unit arithmetic.
//!
//! Each function file keeps only its per-value logic; turning the
//! `ColumnarValue` arguments into typed Arrow arrays, and the result back,
//! happens here.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBufferBuilder, Float64Array, Int64Array, PrimitiveArray,
    new_null_array,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::arity::try_unary;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::types::{
    NativeType, logical_date, logical_float64, logical_int64, logical_string,
};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{Coercion, ColumnarValue, TypeSignatureClass};

/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Modified Julian Date of the Unix epoch, 1970-01-01T00:00:00 UTC.
pub const UNIX_EPOCH_MJD: i64 = 40_587;

/// Time zone of every timestamp these functions return.
pub const UTC: &str = "UTC";

/// The type of every timestamp these functions return:
/// `Timestamp(Microsecond, Some("UTC"))`.
pub fn utc_timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from(UTC)))
}

/// A timestamp argument: any unit, with or without a time zone; strings and
/// dates are cast to `Timestamp(Microsecond, "UTC")`.
pub fn timestamp_coercion() -> Coercion {
    Coercion::new_implicit(
        TypeSignatureClass::Timestamp,
        vec![
            TypeSignatureClass::Native(logical_string()),
            TypeSignatureClass::Native(logical_date()),
        ],
        NativeType::Timestamp(TimeUnit::Microsecond, Some(Arc::from(UTC))),
    )
}

/// A `DOUBLE` argument; any numeric type is cast to `Float64`.
pub fn float64_coercion() -> Coercion {
    Coercion::new_implicit(
        TypeSignatureClass::Native(logical_float64()),
        vec![TypeSignatureClass::Numeric],
        NativeType::Float64,
    )
}

/// A `BIGINT` argument; any integer type is cast to `Int64`.
pub fn int64_coercion() -> Coercion {
    Coercion::new_implicit(
        TypeSignatureClass::Native(logical_int64()),
        vec![TypeSignatureClass::Integer],
        NativeType::Int64,
    )
}

/// A text argument of any string encoding (`Utf8`, `LargeUtf8`, `Utf8View`).
pub fn string_coercion() -> Coercion {
    Coercion::new_exact(TypeSignatureClass::Native(logical_string()))
}

/// The arguments of one scalar call as arrays of equal length.
///
/// When every argument is a scalar the arrays have length one and
/// [`Args::finish`] turns the result back into a scalar, so constant
/// expressions cost one evaluation.
pub struct Args {
    /// The arguments, each of length [`Args::len`].
    pub arrays: Vec<ArrayRef>,
    all_scalar: bool,
}

impl Args {
    /// Converts `args` into arrays of `number_rows` rows (one row when every
    /// argument is a scalar).
    pub fn new(args: &[ColumnarValue], number_rows: usize) -> Result<Self> {
        let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let len = if all_scalar { 1 } else { number_rows };
        let arrays = args
            .iter()
            .map(|a| a.to_array(len))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { arrays, all_scalar })
    }

    /// Number of rows of every argument array.
    pub fn len(&self) -> usize {
        self.arrays.first().map_or(0, |a| a.len())
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wraps a result array as a `ColumnarValue` of the call's shape.
    pub fn finish(&self, result: ArrayRef) -> Result<ColumnarValue> {
        if self.all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// The argument as `Float64` values (NULL-typed arrays become all-null).
pub fn as_float64(array: &ArrayRef) -> Result<Float64Array> {
    match array.data_type() {
        DataType::Float64 => Ok(array.as_primitive::<Float64Type>().clone()),
        _ => Ok(cast(array, &DataType::Float64)?
            .as_primitive::<Float64Type>()
            .clone()),
    }
}

/// The argument as `Int64` values (NULL-typed arrays become all-null).
pub fn as_int64(array: &ArrayRef) -> Result<Int64Array> {
    match array.data_type() {
        DataType::Int64 => Ok(array.as_primitive::<Int64Type>().clone()),
        _ => Ok(cast(array, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .clone()),
    }
}

/// A timestamp array of any unit viewed as raw `i64` ticks since the Unix
/// epoch (UTC, whatever the array's display time zone) plus its unit.
///
/// The view shares the array's buffers; nothing is copied.
#[derive(Debug, Clone)]
pub struct Ticks {
    /// Ticks since 1970-01-01T00:00:00 UTC, with the input's nulls.
    pub values: Int64Array,
    /// Length of one tick.
    pub unit: TimeUnit,
}

impl Ticks {
    /// Views `array` (a timestamp of any unit and zone, or NULL-typed) as
    /// ticks since the Unix epoch.
    pub fn try_new(array: &ArrayRef) -> Result<Self> {
        let (values, unit) = match array.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => (
                array
                    .as_primitive::<TimestampSecondType>()
                    .reinterpret_cast::<Int64Type>(),
                TimeUnit::Second,
            ),
            DataType::Timestamp(TimeUnit::Millisecond, _) => (
                array
                    .as_primitive::<TimestampMillisecondType>()
                    .reinterpret_cast::<Int64Type>(),
                TimeUnit::Millisecond,
            ),
            DataType::Timestamp(TimeUnit::Microsecond, _) => (
                array
                    .as_primitive::<TimestampMicrosecondType>()
                    .reinterpret_cast::<Int64Type>(),
                TimeUnit::Microsecond,
            ),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => (
                array
                    .as_primitive::<TimestampNanosecondType>()
                    .reinterpret_cast::<Int64Type>(),
                TimeUnit::Nanosecond,
            ),
            DataType::Null => (
                new_null_array(&DataType::Int64, array.len())
                    .as_primitive::<Int64Type>()
                    .clone(),
                TimeUnit::Microsecond,
            ),
            other => return exec_err!("expected a timestamp argument, got {other}"),
        };
        Ok(Self { values, unit })
    }
}

impl Ticks {
    /// The timestamps as microseconds since the Unix epoch (nanoseconds
    /// floored); an error when a second or millisecond value overflows.
    pub fn to_micros(&self) -> Result<Int64Array> {
        let unit = self.unit;
        if unit == TimeUnit::Microsecond {
            return Ok(self.values.clone());
        }
        Ok(try_unary::<_, _, Int64Type>(&self.values, |t| {
            ticks_to_micros(t, unit).ok_or_else(|| {
                ArrowError::ComputeError(format!("timestamp {t} ({unit:?}) is out of range"))
            })
        })?)
    }
}

/// Number of ticks of `unit` in one day.
pub const fn ticks_per_day(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 86_400,
        TimeUnit::Millisecond => 86_400_000,
        TimeUnit::Microsecond => MICROS_PER_DAY,
        TimeUnit::Nanosecond => 86_400_000_000_000,
    }
}

/// Converts ticks of `unit` to microseconds, flooring sub-microsecond
/// nanoseconds; `None` on overflow.
pub fn ticks_to_micros(ticks: i64, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => ticks.checked_mul(1_000_000),
        TimeUnit::Millisecond => ticks.checked_mul(1_000),
        TimeUnit::Microsecond => Some(ticks),
        TimeUnit::Nanosecond => Some(ticks.div_euclid(1_000)),
    }
}

/// Splits ticks since the Unix epoch into whole days since the epoch and the
/// fraction of the day in `[0, 1)`. Splitting keeps full precision for the
/// fraction, which a single `f64` of days would lose.
#[inline]
pub fn split_day(ticks: i64, per_day: i64) -> (i64, f64) {
    let day = ticks.div_euclid(per_day);
    let rest = ticks.rem_euclid(per_day);
    (day, rest as f64 / per_day as f64)
}

/// Ticks since the Unix epoch as fractional days since the epoch.
#[inline]
pub fn ticks_to_days(ticks: i64, per_day: i64) -> f64 {
    let (day, frac) = split_day(ticks, per_day);
    day as f64 + frac
}

/// Builds a `Float64Array` from computed values where a row is valid when the
/// inputs were valid (`nulls`) and the value is finite.
pub fn float64_finite(values: Vec<f64>, nulls: Option<&NullBuffer>) -> Float64Array {
    let mut validity = BooleanBufferBuilder::new(values.len());
    let mut all_valid = true;
    for (i, v) in values.iter().enumerate() {
        let ok = v.is_finite() && nulls.is_none_or(|n| n.is_valid(i));
        all_valid &= ok;
        validity.append(ok);
    }
    let nulls = if all_valid {
        None
    } else {
        Some(NullBuffer::new(validity.finish()))
    };
    PrimitiveArray::new(values.into(), nulls)
}

/// Union of the null masks of `arrays`.
pub fn union_nulls(arrays: &[&dyn Array]) -> Option<NullBuffer> {
    NullBuffer::union_many(arrays.iter().map(|a| a.nulls()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::TimestampNanosecondArray;

    #[test]
    fn split_day_handles_times_before_the_epoch() {
        assert_eq!(split_day(-1, 4), (-1, 0.75));
        assert_eq!(split_day(5, 4), (1, 0.25));
    }

    #[test]
    fn nanoseconds_floor_to_microseconds() {
        assert_eq!(ticks_to_micros(-1, TimeUnit::Nanosecond), Some(-1));
        assert_eq!(ticks_to_micros(1_999, TimeUnit::Nanosecond), Some(1));
        assert_eq!(ticks_to_micros(i64::MAX, TimeUnit::Second), None);
    }

    #[test]
    fn ticks_view_keeps_values_and_nulls() {
        let ts: ArrayRef =
            Arc::new(TimestampNanosecondArray::from(vec![Some(5), None]).with_timezone("+02:00"));
        let t = Ticks::try_new(&ts).unwrap();
        assert_eq!(t.unit, TimeUnit::Nanosecond);
        assert_eq!(t.values.value(0), 5);
        assert!(t.values.is_null(1));
    }

    #[test]
    fn non_finite_values_become_null() {
        let a = float64_finite(vec![1.0, f64::NAN, f64::INFINITY], None);
        assert_eq!(a.null_count(), 2);
        assert_eq!(a.value(0), 1.0);
    }
}
