//! Date and time input as PostgreSQL reads it.
//!
//! pgwire reads text parameters of type `timestamptz`, `timestamp` and
//! `date` with a few chrono formats: `2026-01-01T00:00` (no seconds), zone
//! names and `today` fail, and a `timestamptz` without a zone is taken as
//! UTC rather than in the session's `TimeZone`. [`parse`] reads what
//! PostgreSQL 15 reads for these types in the ISO `DateStyle`: a date
//! `YYYY-MM-DD`, optionally a time after `T` or blanks (`HH:MM`,
//! `HH:MM:SS`, with a fraction), optionally a zone (`Z`, `+hh`, `+hhmm`,
//! `+hh:mm`, `+hh:mm:ss`, `UTC`, an IANA name), and the special values
//! `epoch`, `now`, `today`, `tomorrow` and `yesterday`, case-insensitive.
//! What it refuses gets PostgreSQL's SQLSTATE ([`DateTimeInputError`]).
//!
//! ```
//! use almasql_engine::pg_compat::datetime::{parse, TimeType, TimeValue};
//! use chrono::{TimeZone, Utc};
//!
//! let zone = "America/Santiago".parse().unwrap();
//! let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
//! let v = parse("2026-01-02T03:04", TimeType::Timestamptz, &zone, now).unwrap();
//! // no zone given: the session's (UTC-3 in January)
//! assert_eq!(v, TimeValue::Instant(Utc.with_ymd_and_hms(2026, 1, 2, 6, 4, 0).unwrap()));
//! ```

use std::str::FromStr;

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc,
};
use datafusion::arrow::array::timezone::Tz;

/// The type a text is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeType {
    Timestamptz,
    Timestamp,
    Date,
}

impl TimeType {
    /// The type's name in PostgreSQL's error messages.
    pub fn pg_name(self) -> &'static str {
        match self {
            TimeType::Timestamptz => "timestamp with time zone",
            TimeType::Timestamp => "timestamp without time zone",
            TimeType::Date => "date",
        }
    }
}

/// A value read by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeValue {
    /// A `timestamptz`: an instant.
    Instant(DateTime<Utc>),
    /// A `timestamp`: a wall-clock time of no zone.
    Local(NaiveDateTime),
    /// A `date`.
    Date(NaiveDate),
}

impl TimeValue {
    /// The value in a form pgwire's text decoders read (`2026-01-02
    /// 03:04:05.000000+00:00`, `2026-01-02 03:04:05.000000`, `2026-01-02`).
    pub fn canonical_text(&self) -> String {
        match self {
            TimeValue::Instant(t) => t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string(),
            TimeValue::Local(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            TimeValue::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// Why a text is not a date or time, with PostgreSQL's SQLSTATE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateTimeInputError {
    /// 22007: not a date or time at all.
    #[error("invalid input syntax for type {}: \"{input}\"", .ty.pg_name())]
    Syntax { ty: TimeType, input: String },
    /// 22008: a field out of range (`2026-13-01`, `25:00`).
    #[error("date/time field value out of range: \"{input}\"")]
    FieldOutOfRange { input: String },
    /// 22023: a zone name PostgreSQL does not know either.
    #[error("time zone \"{zone}\" not recognized")]
    UnknownZone { zone: String },
    /// 22009: an offset past PostgreSQL's ±15:59:59.
    #[error("time zone displacement out of range: \"{input}\"")]
    ZoneDisplacement { input: String },
    /// 0A000: `infinity`, which Arrow timestamps cannot hold.
    #[error("infinite dates and timestamps are not supported by almasql: \"{input}\"")]
    Infinite { input: String },
}

impl DateTimeInputError {
    /// The SQLSTATE PostgreSQL answers with.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            DateTimeInputError::Syntax { .. } => "22007",
            DateTimeInputError::FieldOutOfRange { .. } => "22008",
            DateTimeInputError::UnknownZone { .. } => "22023",
            DateTimeInputError::ZoneDisplacement { .. } => "22009",
            DateTimeInputError::Infinite { .. } => "0A000",
        }
    }
}

/// A zone written in the text.
enum Zone {
    Offset(FixedOffset),
    Named(Tz),
}

/// What the text says before it is placed in a zone.
enum Fields {
    Epoch,
    Now,
    /// Midnight of today plus this many days.
    Day(i64),
    At {
        date: NaiveDate,
        time: NaiveTime,
        /// Days to add (`24:00:00` is the next day's midnight).
        carry: i64,
        zone: Option<Zone>,
    },
}

/// Reads `input` as PostgreSQL reads a literal of type `ty`, in the
/// session's `zone`, with `now` for `now`, `today` and the like.
pub fn parse(
    input: &str,
    ty: TimeType,
    zone: &Tz,
    now: DateTime<Utc>,
) -> Result<TimeValue, DateTimeInputError> {
    let fields = fields(input, ty)?;
    let local_now = now.with_timezone(zone).naive_local();
    let local = |f: &Fields| -> NaiveDateTime {
        match f {
            Fields::Epoch => DateTime::UNIX_EPOCH.naive_utc(),
            Fields::Now => local_now,
            Fields::Day(n) => (local_now.date() + Duration::days(*n)).and_time(NaiveTime::MIN),
            Fields::At {
                date, time, carry, ..
            } => date.and_time(*time) + Duration::days(*carry),
        }
    };
    let out_of_range = || DateTimeInputError::FieldOutOfRange {
        input: input.to_string(),
    };
    Ok(match ty {
        TimeType::Date => TimeValue::Date(local(&fields).date()),
        TimeType::Timestamp => TimeValue::Local(local(&fields)),
        TimeType::Timestamptz => TimeValue::Instant(match &fields {
            Fields::Epoch => DateTime::UNIX_EPOCH,
            Fields::Now => now,
            Fields::At {
                zone: Some(Zone::Offset(offset)),
                ..
            } => in_zone(offset, local(&fields)).ok_or_else(out_of_range)?,
            Fields::At {
                zone: Some(Zone::Named(named)),
                ..
            } => in_zone(named, local(&fields)).ok_or_else(out_of_range)?,
            _ => in_zone(zone, local(&fields)).ok_or_else(out_of_range)?,
        }),
    })
}

/// The instant of wall-clock time `local` in `zone`: the earlier of two in
/// a repeated hour, and in a skipped hour the time an hour later, as
/// PostgreSQL does.
fn in_zone<Z: TimeZone>(zone: &Z, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => zone
            .from_local_datetime(&(local + Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// A cursor over the bytes of the input.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        self.at += usize::from(found);
        found
    }

    fn blanks(&mut self) -> bool {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
        self.at > start
    }

    /// A run of digits, at most `max` of them, as a number and its length.
    fn digits(&mut self, max: usize) -> Option<(u32, usize)> {
        let start = self.at;
        let mut n: u32 = 0;
        while self.at - start < max
            && let Some(b) = self.peek().filter(u8::is_ascii_digit)
        {
            n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
            self.at += 1;
        }
        (self.at > start).then_some((n, self.at - start))
    }

    fn rest(&self) -> &str {
        std::str::from_utf8(&self.bytes[self.at..]).unwrap_or_default()
    }
}

fn fields(input: &str, ty: TimeType) -> Result<Fields, DateTimeInputError> {
    let syntax = || DateTimeInputError::Syntax {
        ty,
        input: input.to_string(),
    };
    let out_of_range = || DateTimeInputError::FieldOutOfRange {
        input: input.to_string(),
    };
    let text = input.trim();
    match text.to_ascii_lowercase().as_str() {
        "epoch" => return Ok(Fields::Epoch),
        "now" => return Ok(Fields::Now),
        "today" => return Ok(Fields::Day(0)),
        "tomorrow" => return Ok(Fields::Day(1)),
        "yesterday" => return Ok(Fields::Day(-1)),
        "infinity" | "+infinity" | "-infinity" => {
            return Err(DateTimeInputError::Infinite {
                input: input.to_string(),
            });
        }
        _ => {}
    }
    let mut s = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let (year, month, day) = match s.digits(8).ok_or_else(syntax)? {
        // `20260102`
        (ymd, 8) if s.peek() != Some(b'-') => (ymd / 10_000, ymd / 100 % 100, ymd % 100),
        (year, _) => {
            if !s.eat(b'-') {
                return Err(syntax());
            }
            let (month, _) = s.digits(2).ok_or_else(syntax)?;
            if !s.eat(b'-') {
                return Err(syntax());
            }
            let (day, _) = s.digits(2).ok_or_else(syntax)?;
            (year, month, day)
        }
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(out_of_range)?;

    let mut time = NaiveTime::MIN;
    let mut carry = 0;
    let t = s.eat(b'T') || s.eat(b't');
    let separated = t || s.blanks();
    if t && !s.peek().is_some_and(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    if separated && s.peek().is_some_and(|b| b.is_ascii_digit()) {
        let (hour, _) = s.digits(2).ok_or_else(syntax)?;
        if !s.eat(b':') {
            return Err(syntax());
        }
        let (minute, _) = s.digits(2).ok_or_else(syntax)?;
        let (mut second, mut micros) = (0, 0);
        if s.eat(b':') {
            second = s.digits(2).ok_or_else(syntax)?.0;
            if s.eat(b'.') {
                micros = fraction_micros(&mut s).ok_or_else(syntax)?;
            }
        }
        if hour > 24 || minute > 59 || second > 60 {
            return Err(out_of_range());
        }
        if hour == 24 {
            if minute != 0 || second != 0 || micros != 0 {
                return Err(out_of_range());
            }
            carry = 1;
        } else {
            // `:60` is the next minute's first second, as in PostgreSQL
            let base = NaiveTime::from_hms_opt(hour, minute, second.min(59)).expect("checked");
            let extra = i64::from(second == 60) * 1_000_000 + i64::from(micros);
            let (t, wrapped) = base.overflowing_add_signed(Duration::microseconds(extra));
            time = t;
            carry = wrapped / 86_400;
        }
        s.blanks();
    }
    let zone = zone(&mut s, input, syntax)?;
    s.blanks();
    if !s.rest().is_empty() {
        return Err(syntax());
    }
    Ok(Fields::At {
        date,
        time,
        carry,
        zone,
    })
}

/// The digits of a fraction of a second, rounded to microseconds as
/// PostgreSQL rounds them.
fn fraction_micros(s: &mut Scanner) -> Option<u32> {
    let start = s.at;
    while s.peek().is_some_and(|b| b.is_ascii_digit()) {
        s.at += 1;
    }
    let digits = &s.bytes[start..s.at];
    if digits.is_empty() {
        return Some(0);
    }
    let mut micros: u32 = 0;
    for i in 0..6 {
        micros = micros * 10 + digits.get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    if digits.get(6).is_some_and(|d| *d >= b'5') {
        micros += 1;
    }
    Some(micros)
}

/// An optional zone: `Z`, a numeric offset or a name.
fn zone(
    s: &mut Scanner,
    input: &str,
    syntax: impl Fn() -> DateTimeInputError,
) -> Result<Option<Zone>, DateTimeInputError> {
    let Some(first) = s.peek() else {
        return Ok(None);
    };
    if first == b'+' || first == b'-' {
        s.at += 1;
        let (hours, n) = s.digits(4).ok_or_else(&syntax)?;
        let (h, mut m, mut sec) = match n {
            1 | 2 => (hours, 0, 0),
            4 => (hours / 100, hours % 100, 0),
            _ => return Err(syntax()),
        };
        if n <= 2 && s.eat(b':') {
            m = s.digits(2).filter(|(_, n)| *n == 2).ok_or_else(&syntax)?.0;
            if s.eat(b':') {
                sec = s.digits(2).filter(|(_, n)| *n == 2).ok_or_else(&syntax)?.0;
            }
        }
        if h > 15 || m > 59 || sec > 59 {
            return Err(DateTimeInputError::ZoneDisplacement {
                input: input.to_string(),
            });
        }
        let seconds = (h * 3600 + m * 60 + sec) as i32;
        let seconds = if first == b'-' { -seconds } else { seconds };
        let offset = FixedOffset::east_opt(seconds).ok_or_else(&syntax)?;
        return Ok(Some(Zone::Offset(offset)));
    }
    if first.is_ascii_alphabetic() {
        let start = s.at;
        while s
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
        {
            s.at += 1;
        }
        let name = std::str::from_utf8(&s.bytes[start..s.at]).unwrap_or_default();
        if name.eq_ignore_ascii_case("z")
            || name.eq_ignore_ascii_case("utc")
            || name.eq_ignore_ascii_case("gmt")
        {
            return Ok(Some(Zone::Offset(FixedOffset::east_opt(0).expect("zero"))));
        }
        return match Tz::from_str(name) {
            Ok(tz) => Ok(Some(Zone::Named(tz))),
            // a region name PostgreSQL does not know either; another word
            // is no zone at all
            Err(_) if name.contains('/') => Err(DateTimeInputError::UnknownZone {
                zone: name.to_ascii_lowercase(),
            }),
            Err(_) => Err(syntax()),
        };
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> Tz {
        "+00:00".parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 12, 30, 0).unwrap()
    }

    fn instant(text: &str) -> String {
        match parse(text, TimeType::Timestamptz, &utc(), now()) {
            Ok(TimeValue::Instant(t)) => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
            other => panic!("{text}: {other:?}"),
        }
    }

    /// Each accepted form and the instant PostgreSQL 15 reads from it
    /// (`select '<text>'::timestamptz` under `TimeZone = 'UTC'`).
    #[test]
    fn timestamptz_forms_postgres_accepts() {
        for (text, want) in [
            ("2026-01-02", "2026-01-02 00:00:00"),
            ("2026-01-02T03:04", "2026-01-02 03:04:00"),
            ("2026-01-02 03:04", "2026-01-02 03:04:00"),
            ("2026-01-02 03:04:05", "2026-01-02 03:04:05"),
            ("2026-01-02t03:04:05.25", "2026-01-02 03:04:05.250"),
            ("2026-01-02 03:04:05.1234567", "2026-01-02 03:04:05.123457"),
            ("2026-01-02T03:04:05Z", "2026-01-02 03:04:05"),
            ("2026-01-02 03:04:05+02", "2026-01-02 01:04:05"),
            ("2026-01-02 03:04:05 -03:30", "2026-01-02 06:34:05"),
            ("2026-01-02 03:04:05+0530", "2026-01-01 21:34:05"),
            ("2026-01-02 03:04:05 UTC", "2026-01-02 03:04:05"),
            (
                "2026-01-02 03:04:05 America/Santiago",
                "2026-01-02 06:04:05",
            ),
            ("2026-01-02 24:00:00", "2026-01-03 00:00:00"),
            ("2026-01-02 23:59:60", "2026-01-03 00:00:00"),
            ("  2026-1-2 3:04  ", "2026-01-02 03:04:00"),
            ("2026-01-02 3:4:5", "2026-01-02 03:04:05"),
            ("2026-01-02 03:04:05.", "2026-01-02 03:04:05"),
            ("20260102", "2026-01-02 00:00:00"),
            ("2026-01-02 03:04:05 z", "2026-01-02 03:04:05"),
            ("2026-01-02 03:04:05.5 +02:30:15", "2026-01-02 00:33:50.500"),
            ("2026-01-02 03:04:05+15:30", "2026-01-01 11:34:05"),
            ("2026-01-02 03:04:05 EST", "2026-01-02 08:04:05"),
            ("epoch", "1970-01-01 00:00:00"),
            ("EPOCH", "1970-01-01 00:00:00"),
            ("now", "2026-01-05 12:30:00"),
            ("today", "2026-01-05 00:00:00"),
            ("tomorrow", "2026-01-06 00:00:00"),
            ("yesterday", "2026-01-04 00:00:00"),
        ] {
            assert_eq!(instant(text), want, "{text}");
        }
    }

    #[test]
    fn a_time_without_zone_is_in_the_session_zone() {
        let santiago: Tz = "America/Santiago".parse().unwrap();
        // summer time (UTC-3) in January, standard time (UTC-4) in July
        for (text, want) in [
            ("2026-01-02 00:00", "2026-01-02 03:00:00"),
            ("2026-07-02 00:00", "2026-07-02 04:00:00"),
            ("today", "2026-01-05 03:00:00"),
        ] {
            let v = parse(text, TimeType::Timestamptz, &santiago, now()).unwrap();
            let TimeValue::Instant(t) = v else {
                panic!("{v:?}")
            };
            assert_eq!(t.format("%Y-%m-%d %H:%M:%S").to_string(), want, "{text}");
        }
    }

    #[test]
    fn timestamp_and_date_ignore_the_zone() {
        let v = parse("2026-01-02T03:04:05+05", TimeType::Timestamp, &utc(), now());
        assert_eq!(
            v.unwrap().canonical_text(),
            "2026-01-02 03:04:05.000000",
            "PostgreSQL drops a zone given to a timestamp"
        );
        let v = parse("2026-01-02 03:04", TimeType::Date, &utc(), now());
        assert_eq!(
            v.unwrap(),
            TimeValue::Date(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap())
        );
    }

    /// What PostgreSQL 15 refuses, with its SQLSTATE.
    #[test]
    fn refusals_carry_postgres_sqlstates() {
        for (text, code) in [
            ("garbage", "22007"),
            ("2026-01", "22007"),
            ("2026-01-02 03", "22007"),
            ("2026-01-02T", "22007"),
            ("2026-01-02 03:04:05 extra", "22007"),
            ("2026-01-02 03:04:05 extra words", "22007"),
            ("2026-13-01", "22008"),
            ("2026-02-30", "22008"),
            ("2026-01-02 25:00", "22008"),
            ("2026-01-02 24:00:01", "22008"),
            ("2026-01-02 03:60", "22008"),
            ("2026-01-02 03:04:05 Mars/Olympus", "22023"),
            ("2026-01-02 03:04:05+16", "22009"),
            ("infinity", "0A000"),
        ] {
            let err = parse(text, TimeType::Timestamptz, &utc(), now()).unwrap_err();
            assert_eq!(err.sqlstate(), code, "{text}: {err}");
        }
        let err = parse("x", TimeType::Date, &utc(), now()).unwrap_err();
        assert_eq!(err.to_string(), "invalid input syntax for type date: \"x\"");
    }

    #[test]
    fn canonical_text_is_what_pgwire_reads() {
        let v = parse(
            "2026-01-02T03:04:05.5-01",
            TimeType::Timestamptz,
            &utc(),
            now(),
        )
        .unwrap();
        assert_eq!(v.canonical_text(), "2026-01-02 04:04:05.500000+00:00");
    }
}
