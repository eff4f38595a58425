//! `calibrators.measurements`: the calibrator survey.

use std::fmt::Write;
use std::path::Path;

use super::rng::DemoRng;
use super::write::{atomic, rfc3339_ms};
use super::{STALE_CALIBRATORS, Spec};
use crate::error::Result;

/// The survey's calibrators (real ALMA grid calibrators).
pub const SOURCES: [&str; 30] = [
    "J0006-0623",
    "J0237+2848",
    "J0238+1636",
    "J0319+4130",
    "J0423-0120",
    "J0510+1800",
    "J0522-3627",
    "J0538-4405",
    "J0635-7516",
    "J0750+1231",
    "J0854+2006",
    "J1037-2934",
    "J1058+0133",
    "J1229+0203",
    "J1256-0547",
    "J1337-1257",
    "J1427-4206",
    "J1517-2422",
    "J1550+0527",
    "J1625-2527",
    "J1733-1304",
    "J1751+0939",
    "J1924-2914",
    "J2000-1748",
    "J2025+3343",
    "J2148+0657",
    "J2232+1143",
    "J2253+1608",
    "J2258-2758",
    "J2357-5311",
];

/// Days the survey covers before the end of the dataset.
const SURVEY_DAYS: f64 = 120.0;
const DAY_US: f64 = 86_400_000_000.0;

/// Approximate position (degrees) encoded in a short J-name `JHHMM±DDMM`.
pub fn jname_position(name: &str) -> (f64, f64) {
    let num = |s: &str| s.parse::<f64>().expect("digits in J-name");
    let ra = (num(&name[1..3]) + num(&name[3..5]) / 60.0) * 15.0;
    let dec = num(&name[6..8]) + num(&name[8..10]) / 60.0;
    (ra, if &name[5..6] == "-" { -dec } else { dec })
}

/// Writes `calibrators/measurements.csv`, sorted by time; returns the row count.
pub fn write(out: &Path, spec: &Spec) -> Result<u64> {
    let mut rng = DemoRng::new(spec.seed, "calibrators.measurements");
    let end = spec.end_us() as f64;
    let begin = end - SURVEY_DAYS * DAY_US;
    let mut rows: Vec<(i64, String)> = vec![];
    for source in SOURCES {
        let (ra, dec) = jname_position(source);
        let flux_b3 = 0.2 + 4.0 * rng.uniform() * rng.uniform();
        let alpha = -0.7 + 0.3 * rng.normal();
        for (band, freq) in [(3, 91.5), (6, 233.0), (7, 343.5)] {
            let stale = STALE_CALIBRATORS
                .iter()
                .find(|(s, b, _)| *s == source && *b == band);
            let last = match stale {
                Some((_, _, days)) => {
                    end - *days as f64 * DAY_US - 3.6e9 * (2.0 + 6.0 * rng.uniform())
                }
                None => end - DAY_US * (0.2 + 4.0 * rng.uniform()),
            };
            // Walk back from the last observation to the start of the survey.
            let mut t = last;
            while t > begin {
                let flux = flux_b3 * (freq / 91.5_f64).powf(alpha) * (1.0 + 0.1 * rng.normal());
                let us = (t as i64) / 1_000_000 * 1_000_000;
                rows.push((
                    us,
                    format!(
                        "{source},{ra:.5},{dec:.5},{band},{freq:.1},{flux:.4},{:.4},{}",
                        0.05 * flux.abs() + 0.002,
                        rfc3339_ms(us)
                    ),
                ));
                t -= DAY_US * (3.0 + 6.0 * rng.uniform());
            }
        }
    }
    rows.sort();
    let mut csv = String::from(
        "source,ra_deg,dec_deg,band,frequency_ghz,flux_jy,flux_error_jy,observed_at\n",
    );
    for (_, line) in &rows {
        writeln!(csv, "{line}").expect("write to string");
    }
    atomic(&out.join("calibrators/measurements.csv"), csv.as_bytes())?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_from_names() {
        let (ra, dec) = jname_position("J0854+2006");
        assert!((ra - 133.5).abs() < 1e-9 && (dec - 20.1).abs() < 1e-9);
        let (ra, dec) = jname_position("J2258-2758");
        assert!((ra - 344.5).abs() < 1e-9 && (dec + 27.966_666_666).abs() < 1e-6);
    }
}
