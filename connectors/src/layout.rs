//! The time a file covers, read from its path, so that time filters skip
//! whole files without opening them.
//!
//! The convention (documented in the README, "Sources"): the last
//! `YYYY-MM-DDTHH` in a path means the file holds records of that UTC hour;
//! otherwise the last `YYYY-MM-DD` (also as a `date=YYYY-MM-DD` directory,
//! optionally followed by an `hour=HH` directory) means that UTC day. A path
//! without a date is always read.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

/// The `[start, end)` interval in microseconds a file at `path` covers, or
/// `None` when its path names no date.
pub fn covered_interval(path: &str) -> Option<(i64, i64)> {
    let bytes = path.as_bytes();
    let mut best: Option<(usize, i64, i64)> = None;
    for start in 0..bytes.len().saturating_sub(9) {
        let Some(date) = date_at(bytes, start) else {
            continue;
        };
        let day_start = NaiveDateTime::new(date, NaiveTime::MIN)
            .and_utc()
            .timestamp_micros();
        let hour = hour_after(bytes, start + 10);
        let interval = match hour {
            Some(h) => (day_start + h * HOUR_US, day_start + (h + 1) * HOUR_US),
            None => (day_start, day_start + DAY_US),
        };
        best = Some((start, interval.0, interval.1));
    }
    best.map(|(_, a, b)| (a, b))
}

/// A `YYYY-MM-DD` date starting at `i` and not inside a longer number.
fn date_at(b: &[u8], i: usize) -> Option<NaiveDate> {
    let s = b.get(i..i + 10)?;
    let digits = |r: std::ops::Range<usize>| s[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && s[4] == b'-' && digits(5..7) && s[7] == b'-' && digits(8..10)) {
        return None;
    }
    if i > 0 && b[i - 1].is_ascii_digit() {
        return None;
    }
    if b.get(i + 10).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// An hour after a date: `THH` right after it, or a `/hour=HH` segment.
fn hour_after(b: &[u8], i: usize) -> Option<i64> {
    let two = |j: usize| -> Option<i64> {
        let s = b.get(j..j + 2)?;
        if s.iter().all(u8::is_ascii_digit) && !b.get(j + 2).is_some_and(u8::is_ascii_digit) {
            let h = i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0');
            (h < 24).then_some(h)
        } else {
            None
        }
    };
    if b.get(i) == Some(&b'T') {
        return two(i + 1);
    }
    if b.get(i..i + 6) == Some(b"/hour=") {
        return two(i + 6);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn reads_hours_and_days_from_paths() {
        assert_eq!(
            covered_interval("logs/acs/gas01/gas01-2026-01-02T05.xml.gz"),
            Some((us("2026-01-02T05:00:00Z"), us("2026-01-02T06:00:00Z")))
        );
        assert_eq!(
            covered_interval("archive/date=2026-01-02/hour=23/x.xml"),
            Some((us("2026-01-02T23:00:00Z"), us("2026-01-03T00:00:00Z")))
        );
        assert_eq!(
            covered_interval("text/2026-01-02/DV07/IFProc0/TOTAL_POWER.txt"),
            Some((us("2026-01-02T00:00:00Z"), us("2026-01-03T00:00:00Z")))
        );
        // The last date in the path wins.
        assert_eq!(
            covered_interval("2025-12-31/copy-of-2026-01-02.xml"),
            Some((us("2026-01-02T00:00:00Z"), us("2026-01-03T00:00:00Z")))
        );
    }

    #[test]
    fn ignores_what_is_not_a_date() {
        assert_eq!(covered_interval("logs/acs/all.xml"), None);
        assert_eq!(covered_interval("logs/12026-01-02.xml"), None);
        assert_eq!(covered_interval("logs/2026-13-02.xml"), None);
        // An hour that is not one is ignored, the day still counts.
        assert_eq!(
            covered_interval("x-2026-01-02T99.xml"),
            Some((us("2026-01-02T00:00:00Z"), us("2026-01-03T00:00:00Z")))
        );
    }
}
