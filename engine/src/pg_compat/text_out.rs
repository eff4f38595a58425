//! Values as PostgreSQL 15 prints them in text (ISO `DateStyle`, the
//! `postgres` `IntervalStyle`, `extra_float_digits = 1`).
//!
//! Arrow's own text differs from PostgreSQL's for most of these types
//! (`1e20`, `inf`, `2026-01-02T03:04:05Z`, `1 hours 30 mins`, `[1, 2]`),
//! which breaks scripts and BI tools that parse what psql or a CSV export
//! shows. [`text_column`] gives a column's PostgreSQL text; the server uses
//! it for text-format results (casts to text inside SQL still print
//! Arrow's).
//!
//! ```
//! use almasql_engine::pg_compat::text_out::write_f64;
//!
//! let mut s = String::new();
//! for v in [1e20, 0.1, 123456789012345.0, 1e-7, f64::INFINITY] {
//!     write_f64(&mut s, v);
//!     s.push(' ');
//! }
//! assert_eq!(s, "1e+20 0.1 123456789012345 1e-07 Infinity ");
//! ```

use std::fmt::{Display, LowerExp, Write};
use std::sync::Arc;

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, IntervalDayTimeType, IntervalMonthDayNanoType,
    IntervalUnit, IntervalYearMonthType, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The PostgreSQL text of each value of `array`, a timestamp with a zone
/// shown in `session_zone` (PostgreSQL shows every `timestamptz` in the
/// session's `TimeZone`; `None`: in the column's own zone); `None` for a
/// type other than float, timestamp, time, interval and binary, a zone it
/// cannot read or a value outside what PostgreSQL prints (a year past
/// 9999).
pub fn text_column(array: &dyn Array, session_zone: Option<&Zone>) -> Option<ArrayRef> {
    fn p<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
        array: &dyn Array,
    ) -> impl ExactSizeIterator<Item = Option<T::Native>> + '_ {
        array.as_primitive::<T>().iter()
    }
    match array.data_type() {
        DataType::Float32 => strings(p::<Float32Type>(array), |s, v| {
            write_float(s, v, 6);
            Some(())
        }),
        DataType::Float64 => strings(p::<Float64Type>(array), |s, v| {
            write_float(s, v, 15);
            Some(())
        }),
        DataType::Timestamp(unit, zone) => {
            let zone = match (zone, session_zone) {
                (None, _) => Zone::None,
                (Some(_), Some(session)) => session.clone(),
                (Some(own), None) => Zone::named(own)?,
            };
            let ts = |s: &mut String, micros: Option<i64>| write_timestamp(s, micros?, &zone);
            match unit {
                TimeUnit::Second => strings(p::<TimestampSecondType>(array), |s, v| {
                    ts(s, v.checked_mul(1_000_000))
                }),
                TimeUnit::Millisecond => strings(p::<TimestampMillisecondType>(array), |s, v| {
                    ts(s, v.checked_mul(1_000))
                }),
                TimeUnit::Microsecond => {
                    strings(p::<TimestampMicrosecondType>(array), |s, v| ts(s, Some(v)))
                }
                TimeUnit::Nanosecond => strings(p::<TimestampNanosecondType>(array), |s, v| {
                    ts(s, Some(v.div_euclid(1_000)))
                }),
            }
        }
        DataType::Time32(TimeUnit::Second) => strings(p::<Time32SecondType>(array), |s, v| {
            write_time(s, i64::from(v) * 1_000_000)
        }),
        DataType::Time32(_) => strings(p::<Time32MillisecondType>(array), |s, v| {
            write_time(s, i64::from(v) * 1_000)
        }),
        DataType::Time64(TimeUnit::Microsecond) => {
            strings(p::<Time64MicrosecondType>(array), write_time)
        }
        DataType::Time64(_) => strings(p::<Time64NanosecondType>(array), |s, v| {
            write_time(s, v / 1_000)
        }),
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            strings(p::<IntervalMonthDayNanoType>(array), |s, v| {
                let (months, days, nanos) = IntervalMonthDayNanoType::to_parts(v);
                write_interval(s, months, days, nanos / 1_000);
                Some(())
            })
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            strings(p::<IntervalDayTimeType>(array), |s, v| {
                let (days, millis) = IntervalDayTimeType::to_parts(v);
                write_interval(s, 0, days, i64::from(millis) * 1_000);
                Some(())
            })
        }
        DataType::Interval(IntervalUnit::YearMonth) => {
            strings(p::<IntervalYearMonthType>(array), |s, v| {
                write_interval(s, v, 0, 0);
                Some(())
            })
        }
        DataType::Binary => strings(array.as_binary::<i32>().iter(), bytea),
        DataType::LargeBinary => strings(array.as_binary::<i64>().iter(), bytea),
        DataType::BinaryView => strings(array.as_binary_view().iter(), bytea),
        _ => None,
    }
}

/// A string column of `values` written by `write`; `None` if it gives up
/// on one.
fn strings<V>(
    values: impl ExactSizeIterator<Item = Option<V>>,
    write: impl Fn(&mut String, V) -> Option<()>,
) -> Option<ArrayRef> {
    let mut out = StringBuilder::with_capacity(values.len(), values.len() * 16);
    let mut text = String::with_capacity(32);
    for v in values {
        match v {
            None => out.append_null(),
            Some(v) => {
                text.clear();
                write(&mut text, v)?;
                out.append_value(&text);
            }
        }
    }
    Some(Arc::new(out.finish()))
}

fn bytea(out: &mut String, bytes: &[u8]) -> Option<()> {
    write_bytea(out, bytes);
    Some(())
}

/// A `float8` as PostgreSQL prints it: the shortest text that reads back
/// as the same value, in exponent form when the decimal exponent is below
/// -4 or at least 15.
pub fn write_f64(out: &mut String, v: f64) {
    write_float(out, v, 15);
}

/// A `float4` as PostgreSQL prints it (exponent form from 10^6).
pub fn write_f32(out: &mut String, v: f32) {
    write_float(out, v, 6);
}

/// PostgreSQL's `float8out`/`float4out` (its Ryu `to_chars`): `%g`-like
/// with the shortest round-trip digits, `digits` being `DBL_DIG` or
/// `FLT_DIG`.
fn write_float<F: Display + LowerExp + Into<f64> + Copy>(out: &mut String, v: F, digits: i32) {
    let wide: f64 = v.into();
    if wide.is_nan() {
        out.push_str("NaN");
        return;
    }
    if wide.is_infinite() {
        out.push_str(if wide > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let start = out.len();
    let _ = write!(out, "{v:e}");
    let e = out[start..].find('e').expect("LowerExp writes an exponent") + start;
    let exponent: i32 = out[e + 1..].parse().expect("a decimal exponent");
    if wide == 0.0 || (-4..digits).contains(&exponent) {
        out.truncate(start);
        let _ = write!(out, "{v}");
    } else {
        out.truncate(e);
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.unsigned_abs());
    }
}

/// How a timestamp column's values get their offset.
#[derive(Debug, Clone)]
pub enum Zone {
    /// A timestamp without time zone: no offset printed.
    None,
    /// A fixed offset in seconds east of UTC.
    Fixed(i32),
    /// A zone whose offset depends on the instant.
    Named(Tz),
}

impl Zone {
    /// The zone of an Arrow or `TimeZone` name (`UTC`, `+05:30`,
    /// `America/Santiago`); `None` if it is none.
    pub fn named(name: &str) -> Option<Zone> {
        let utc = ["UTC", "+00:00", "+00", "Z", "Etc/UTC", "GMT", "Etc/GMT"];
        if utc.iter().any(|u| name.eq_ignore_ascii_case(u)) {
            Some(Zone::Fixed(0))
        } else {
            name.parse::<Tz>().ok().map(Zone::Named)
        }
    }
}

/// A timestamp, `micros` since the epoch (UTC), as PostgreSQL prints it
/// in the ISO style in `zone` (`2026-01-02 03:04:05.5+00`: a fraction only
/// when there is one, the offset as `+hh`, `+hh:mm` or `+hh:mm:ss`);
/// `None` for a year outside 1–9999.
pub fn write_timestamp(out: &mut String, micros: i64, zone: &Zone) -> Option<()> {
    let offset = match zone {
        Zone::None => None,
        Zone::Fixed(s) => Some(*s),
        Zone::Named(tz) => {
            use chrono::{Offset, TimeZone};
            let utc = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
            Some(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
        }
    };
    let local = micros.checked_add(i64::from(offset.unwrap_or(0)) * 1_000_000)?;
    let days = local.div_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return None;
    }
    let _ = write!(out, "{year:04}-{month:02}-{day:02} ");
    write_time(out, local.rem_euclid(MICROS_PER_DAY))?;
    if let Some(offset) = offset {
        let sign = if offset < 0 { '-' } else { '+' };
        let offset = offset.unsigned_abs();
        let _ = write!(out, "{sign}{:02}", offset / 3600);
        if offset % 3600 != 0 {
            let _ = write!(out, ":{:02}", offset / 60 % 60);
        }
        if offset % 60 != 0 {
            let _ = write!(out, ":{:02}", offset % 60);
        }
    }
    Some(())
}

/// A time of day, `micros` since midnight: `03:04:05`, `03:04:05.25`.
pub fn write_time(out: &mut String, micros: i64) -> Option<()> {
    let seconds = micros / 1_000_000;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    write_fraction(out, micros % 1_000_000);
    Some(())
}

/// `.ffffff` without its trailing zeros; nothing for zero.
fn write_fraction(out: &mut String, micros: i64) {
    if micros != 0 {
        let _ = write!(out, ".{:06}", micros.unsigned_abs());
        out.truncate(out.trim_end_matches('0').len());
    }
}

/// An interval in PostgreSQL's default `postgres` style: `1 year 2 mons
/// 3 days 04:05:06.5`, `-1 days +01:00:00`, `00:00:00`.
pub fn write_interval(out: &mut String, months: i32, days: i32, micros: i64) {
    let mut zero = true;
    let mut before_negative = false;
    let mut part = |out: &mut String, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        let space = if zero { "" } else { " " };
        let plus = if before_negative && value > 0 {
            "+"
        } else {
            ""
        };
        let s = if value == 1 { "" } else { "s" };
        let _ = write!(out, "{space}{plus}{value} {unit}{s}");
        before_negative = value < 0;
        zero = false;
    };
    part(out, i64::from(months / 12), "year");
    part(out, i64::from(months % 12), "mon");
    part(out, i64::from(days), "day");
    if zero || micros != 0 {
        let space = if zero { "" } else { " " };
        let sign = if micros < 0 {
            "-"
        } else if before_negative {
            "+"
        } else {
            ""
        };
        let abs = micros.unsigned_abs();
        let seconds = abs / 1_000_000;
        let _ = write!(
            out,
            "{space}{sign}{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
        write_fraction(out, (abs % 1_000_000) as i64);
    }
}

/// `bytea` in PostgreSQL's default `hex` output: `\x6162`.
pub fn write_bytea(out: &mut String, bytes: &[u8]) {
    out.push_str("\\x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// The proleptic Gregorian (year, month, day) of a day count since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn f64_text(v: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, v);
        s
    }

    fn f32_text(v: f32) -> String {
        let mut s = String::new();
        write_f32(&mut s, v);
        s
    }

    /// PostgreSQL 15: `select v::float8`, `select v::float4`.
    #[test]
    fn floats_print_as_postgresql_prints_them() {
        for (v, want) in [
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e20, "1e+20"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (1e-7, "1e-07"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1.5 / 7.0, "0.21428571428571427"),
            (-2.5e-300, "-2.5e-300"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
            (100.0, "100"),
        ] {
            assert_eq!(f64_text(v), want, "{v:e}");
        }
        for (v, want) in [
            (1.1f32, "1.1"),
            (1e20, "1e+20"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (f32::INFINITY, "Infinity"),
        ] {
            assert_eq!(f32_text(v), want, "{v:e}");
        }
    }

    fn interval(months: i32, days: i32, micros: i64) -> String {
        let mut s = String::new();
        write_interval(&mut s, months, days, micros);
        s
    }

    /// PostgreSQL 15, `IntervalStyle = postgres`.
    #[test]
    fn intervals_print_as_postgresql_prints_them() {
        let h = 3_600_000_000;
        assert_eq!(interval(0, 1, 2 * h), "1 day 02:00:00");
        assert_eq!(interval(3, 0, 0), "3 mons");
        assert_eq!(
            interval(14, 3, 4 * h + 5 * 60_000_000 + 6_500_000),
            "1 year 2 mons 3 days 04:05:06.5"
        );
        assert_eq!(interval(0, 0, 90 * 60_000_000), "01:30:00");
        assert_eq!(interval(0, -1, 0), "-1 days");
        assert_eq!(interval(0, -1, h), "-1 days +01:00:00");
        assert_eq!(interval(0, 1, -h), "1 day -01:00:00");
        assert_eq!(interval(-13, 0, 0), "-1 years -1 mons");
        assert_eq!(interval(0, 0, 0), "00:00:00");
        assert_eq!(interval(0, 0, 100 * h), "100:00:00");
    }

    fn ts(micros: i64, zone: &Zone) -> String {
        let mut s = String::new();
        write_timestamp(&mut s, micros, zone).unwrap();
        s
    }

    #[test]
    fn timestamps_print_as_postgresql_prints_them() {
        // PostgreSQL 15, `SET TimeZone`, ISO DateStyle
        let utc = Zone::Fixed(0);
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        assert_eq!(ts(0, &utc), "1970-01-01 00:00:00+00");
        assert_eq!(
            ts(at("2026-01-02T03:04:05.5Z"), &utc),
            "2026-01-02 03:04:05.5+00"
        );
        assert_eq!(
            ts(at("2026-01-02T03:04:05.000123Z"), &utc),
            "2026-01-02 03:04:05.000123+00"
        );
        assert_eq!(
            ts(at("1969-12-31T23:59:59.999999Z"), &utc),
            "1969-12-31 23:59:59.999999+00"
        );
        assert_eq!(
            ts(at("2024-02-29T12:00:00Z"), &Zone::None),
            "2024-02-29 12:00:00"
        );
        let santiago = Zone::named("America/Santiago").unwrap();
        // summer (UTC-3) and winter (UTC-4) time
        assert_eq!(
            ts(at("2026-01-15T12:00:00Z"), &santiago),
            "2026-01-15 09:00:00-03"
        );
        assert_eq!(
            ts(at("2026-07-15T12:00:00Z"), &santiago),
            "2026-07-15 08:00:00-04"
        );
        let kolkata = Zone::named("Asia/Kolkata").unwrap();
        assert_eq!(
            ts(at("2026-01-15T12:00:00Z"), &kolkata),
            "2026-01-15 17:30:00+05:30"
        );
        let mut s = String::new();
        assert!(write_timestamp(&mut s, i64::MAX / 2, &utc).is_none());
    }

    #[test]
    fn dates_agree_with_chrono_over_the_whole_range() {
        let mut micros = Utc
            .with_ymd_and_hms(1, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp_micros();
        let end = Utc
            .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .unwrap()
            .timestamp_micros();
        // about 40 000 instants, at steps that are not whole days
        let step = (end - micros) / 40_000 + 7_777_777;
        while micros < end {
            let expected = DateTime::from_timestamp_micros(micros)
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S")
                .to_string();
            assert_eq!(
                ts(micros - micros.rem_euclid(1_000_000), &Zone::None),
                expected
            );
            micros += step;
        }
    }

    #[test]
    fn columns_of_each_type_and_nulls() {
        use datafusion::arrow::array::{BinaryArray, Float64Array, Time64MicrosecondArray};
        let floats = Float64Array::from(vec![Some(1e20), None]);
        let text = text_column(&floats, None).unwrap();
        let text = text.as_string::<i32>();
        assert_eq!(text.value(0), "1e+20");
        assert!(text.is_null(1));
        let times = Time64MicrosecondArray::from(vec![3 * 3_600_000_000 + 250_000]);
        let text = text_column(&times, None).unwrap();
        assert_eq!(text.as_string::<i32>().value(0), "03:00:00.25");
        let bytes = BinaryArray::from(vec![&b"ab"[..]]);
        let text = text_column(&bytes, None).unwrap();
        assert_eq!(text.as_string::<i32>().value(0), "\\x6162");
        assert!(text_column(&datafusion::arrow::array::Int32Array::from(vec![1]), None).is_none());
    }
}
