//! Parser of calibrator J-names shared by `jname_ra` and `jname_dec`.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};

/// ICRS right ascension and declination in degrees encoded in a J-name such
/// as `J0006-0623`, `J0237+2848`, `J1924-2914` or `J123456.7+123456`.
///
/// The forms are `J` + `HHMM[SS][.f…]` + `±` + `DDMM[SS][.f…]`, surrounding
/// whitespace ignored; a decimal fraction belongs to the last field given.
/// J-names truncate the coordinates, so the values are the truncated ones.
/// Returns `None` for anything else, including out-of-range fields.
pub fn parse_jname(text: &str) -> Option<(f64, f64)> {
    let rest = text.trim().strip_prefix('J')?;
    let sign_at = rest.find(['+', '-'])?;
    let (ra, dec) = rest.split_at(sign_at);
    let sign = if dec.starts_with('-') { -1.0 } else { 1.0 };
    let ra_hours = sexagesimal(ra, 24)?;
    let dec_deg = sexagesimal(&dec[1..], 90)?;
    if dec_deg > 90.0 || ra_hours >= 24.0 {
        return None;
    }
    Some((ra_hours * 15.0, sign * dec_deg))
}

/// `AABB[CC][.f…]` as `AA + BB/60 + CC.f/3600`, with `AA < first_limit`
/// (or `== first_limit` for the declination's 90), `BB, CC < 60`.
fn sexagesimal(field: &str, first_limit: u32) -> Option<f64> {
    let (whole, frac) = match field.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (field, None),
    };
    if !(whole.len() == 4 || whole.len() == 6) || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction = match frac {
        None => 0.0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => f
            .bytes()
            .rev()
            .fold(0.0, |acc, b| (acc + f64::from(b - b'0')) / 10.0),
        Some(_) => return None,
    };
    let num = |i: usize| {
        u32::from(whole.as_bytes()[i] - b'0') * 10 + u32::from(whole.as_bytes()[i + 1] - b'0')
    };
    let first = num(0);
    let minutes = num(2);
    if first > first_limit || minutes >= 60 {
        return None;
    }
    let value = if whole.len() == 4 {
        f64::from(first) + (f64::from(minutes) + fraction) / 60.0
    } else {
        let seconds = num(4);
        if seconds >= 60 {
            return None;
        }
        f64::from(first) + f64::from(minutes) / 60.0 + (f64::from(seconds) + fraction) / 3600.0
    };
    Some(value)
}

/// Applies `pick` to the parsed J-name of every string in `array` (any
/// string type, or NULL-typed); NULL where the text is not a J-name.
pub fn map_jnames(
    array: &ArrayRef,
    name: &str,
    pick: impl Fn((f64, f64)) -> f64,
) -> Result<Float64Array> {
    let convert = |s: Option<&str>| s.and_then(parse_jname).map(&pick);
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().map(convert).collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().map(convert).collect(),
        DataType::Utf8View => array.as_string_view().iter().map(convert).collect(),
        DataType::Null => Float64Array::new_null(array.len()),
        other => return exec_err!("{name} expects a string, got {other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64)) -> bool {
        (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9
    }

    #[test]
    fn short_forms() {
        let (ra, dec) = parse_jname("J0006-0623").unwrap();
        assert!(close((ra, dec), (1.5, -(6.0 + 23.0 / 60.0))));
        let (ra, dec) = parse_jname("J0237+2848").unwrap();
        assert!(close(
            (ra, dec),
            (15.0 * (2.0 + 37.0 / 60.0), 28.0 + 48.0 / 60.0)
        ));
    }

    #[test]
    fn long_forms_and_fractions() {
        let (ra, dec) = parse_jname("J123456.7+123456").unwrap();
        let ra_h = 12.0 + 34.0 / 60.0 + 56.7 / 3600.0;
        assert!(close(
            (ra, dec),
            (15.0 * ra_h, 12.0 + 34.0 / 60.0 + 56.0 / 3600.0)
        ));
        let (ra, dec) = parse_jname(" J0000.5-0000.5 ").unwrap();
        assert!(close((ra, dec), (15.0 * 0.5 / 60.0, -0.5 / 60.0)));
        let (_, dec) = parse_jname("J000000-900000").unwrap();
        assert_eq!(dec, -90.0);
    }

    #[test]
    fn rejects_non_jnames() {
        for text in [
            "",
            "J",
            "3C279",
            "B1226+023",
            "J0006",
            "J0006-06",
            "j0006-0623",
            "J2400+0000",
            "J0060-0000",
            "J0000+9100",
            "J0000+9001",
            "J0000+0060",
            "J000060+000000",
            "J0006.-0623",
            "J00a6-0623",
            "J0006-0623x",
            "J0006+-0623",
        ] {
            assert_eq!(parse_jname(text), None, "{text}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            /// Any text gives `None` or coordinates on the sky, never a panic.
            #[test]
            fn any_text_parses_to_nothing_or_the_sky(
                text in prop_oneof!["J[0-9.+\\- ]{0,18}", "\\PC{0,20}", "[ J]?[0-9\u{660}-\u{669}]{2,8}[+-][0-9]{2,8}"],
            ) {
                if let Some((ra, dec)) = parse_jname(&text) {
                    prop_assert!((0.0..360.0).contains(&ra), "{text}: ra {ra}");
                    prop_assert!((-90.0..=90.0).contains(&dec), "{text}: dec {dec}");
                }
            }

            /// A J-name written from sexagesimal fields reads back as them.
            #[test]
            fn written_jnames_read_back(
                (h, m, s) in (0u32..24, 0u32..60, 0u32..60),
                (d, dm, ds) in (0u32..90, 0u32..60, 0u32..60),
                south in any::<bool>(),
                seconds in any::<bool>(),
            ) {
                let sign = if south { '-' } else { '+' };
                let (text, ra_h, dec_d) = if seconds {
                    (
                        format!("J{h:02}{m:02}{s:02}{sign}{d:02}{dm:02}{ds:02}"),
                        f64::from(h) + f64::from(m) / 60.0 + f64::from(s) / 3600.0,
                        f64::from(d) + f64::from(dm) / 60.0 + f64::from(ds) / 3600.0,
                    )
                } else {
                    (
                        format!("J{h:02}{m:02}{sign}{d:02}{dm:02}"),
                        f64::from(h) + f64::from(m) / 60.0,
                        f64::from(d) + f64::from(dm) / 60.0,
                    )
                };
                let (ra, dec) = parse_jname(&text).expect("a J-name");
                prop_assert!((ra - 15.0 * ra_h).abs() < 1e-9, "{text}");
                let dec_expected = if south { -dec_d } else { dec_d };
                prop_assert!((dec - dec_expected).abs() < 1e-9, "{text}");
            }
        }
    }
}
