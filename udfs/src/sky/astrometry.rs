//! Earth rotation and apparent places: the model behind `lst`, `hour_angle`
//! and `elevation`.
//!
//! # Site
//! The ALMA array reference position used by CASA (the `OBSGEO-X/Y/Z`
//! CASA writes into ALMA images): ITRF X = 2225142.180269 m,
//! Y = −5440307.370349 m, Z = −2481029.851874 m, which is WGS84 geodetic
//! longitude −67.754929°, latitude −23.022886°, height 5056.8 m.
//!
//! # Sidereal time
//! Greenwich mean sidereal time is the IAU 2006 ERA-based expression
//! (Capitaine et al. 2003, IERS Conventions 2010 eq. 5.32, SOFA `gmst06`):
//! the Earth rotation angle `ERA(UT1)` plus a polynomial in TT centuries.
//! UT1 is taken as UTC (|UT1 − UTC| < 0.9 s, i.e. < 14″ of rotation), and TT
//! as UTC + 69.184 s in the polynomial, where the leap-second error is below
//! 10⁻⁴″.
//!
//! # Apparent place
//! `hour_angle` and `elevation` take ICRS (J2000) coordinates and apply
//! annual aberration (circular orbit plus the eccentricity term, Meeus,
//! Astronomical Algorithms, ch. 23 and 25), IAU 2006 precession (P03 angles
//! ζ, z, θ) and the four largest nutation terms (Meeus ch. 22, error < 0.5″).
//! The hour angle is measured from the true equinox with Greenwich apparent
//! sidereal time (GMST + equation of the equinoxes). The elevation is
//! geometric (no refraction) for the geodetic latitude. Diurnal aberration (the site's
//! rotation, 0.3″) is applied to hour angle and declination. Polar motion,
//! frame bias (0.02″) and light deflection are ignored. The overall error is
//! about 0.5″ (mostly the truncated nutation), against a tolerance of 1 s
//! of time × cos δ and 0.01° checked by the reference tests (astropy).
//!
//! The precession, nutation and aberration terms change by less than 0.02″
//! an hour, so [`ApparentFrame`] is evaluated once per hour of time (at the
//! middle of the hour) and reused for all rows in that hour.

use std::f64::consts::{PI, TAU};

use crate::common::MICROS_PER_DAY;

/// Geodetic (WGS84) east longitude of the ALMA array reference position, °.
pub const ALMA_LONGITUDE_DEG: f64 = -67.754929;
/// Geodetic (WGS84) latitude of the ALMA array reference position, °.
pub const ALMA_LATITUDE_DEG: f64 = -23.022886;
/// Height above the WGS84 ellipsoid of the ALMA array reference position, m.
pub const ALMA_HEIGHT_M: f64 = 5056.8;
/// ITRF geocentric position of the ALMA array reference position, m.
pub const ALMA_ITRF_M: [f64; 3] = [2225142.180269, -5440307.370349, -2481029.851874];

/// Arc seconds to radians.
const ARCSEC: f64 = PI / (180.0 * 3600.0);
/// Days from the Unix epoch to J2000.0 (2000-01-01T12:00:00).
const J2000_UNIX_DAYS: i64 = 10_957;
/// TT − UTC used for the slowly varying terms (TAI − UTC = 37 s since 2017).
const TT_MINUS_UTC_DAYS: f64 = 69.184 / 86_400.0;

/// Earth rotation angle in turns `[0, 1)` at `micros` since the Unix epoch
/// (UT1 = UTC). IERS Conventions 2010 eq. 5.15, split as in SOFA `era00` so
/// the fraction of the day keeps its precision.
#[inline]
pub fn era_turns(micros: i64) -> f64 {
    let day = micros.div_euclid(MICROS_PER_DAY);
    let frac = micros.rem_euclid(MICROS_PER_DAY) as f64 / MICROS_PER_DAY as f64;
    // Days since J2000.0 (which is at noon, hence the −0.5).
    let du = (day - J2000_UNIX_DAYS) as f64 + (frac - 0.5);
    let turns = (frac - 0.5) + 0.779_057_273_264_0 + 0.002_737_811_911_354_48 * du;
    turns.rem_euclid(1.0)
}

/// Julian centuries of TT since J2000.0 at `micros` since the Unix epoch.
#[inline]
pub fn tt_centuries(micros: i64) -> f64 {
    let day = micros.div_euclid(MICROS_PER_DAY);
    let frac = micros.rem_euclid(MICROS_PER_DAY) as f64 / MICROS_PER_DAY as f64;
    ((day - J2000_UNIX_DAYS) as f64 + (frac - 0.5) + TT_MINUS_UTC_DAYS) / 36_525.0
}

/// Greenwich mean sidereal time, IAU 2006, in radians `[0, 2π)`.
#[inline]
pub fn gmst_rad(micros: i64) -> f64 {
    let t = tt_centuries(micros);
    let poly = 0.014_506
        + t * (4_612.156_534
            + t * (1.391_581_7
                + t * (-0.000_000_44 + t * (-0.000_029_956 + t * -0.000_000_036_8))));
    (era_turns(micros) * TAU + poly * ARCSEC).rem_euclid(TAU)
}

/// Local mean sidereal time in hours `[0, 24)` for an east longitude in °.
#[inline]
pub fn lmst_hours(micros: i64, longitude_deg: f64) -> f64 {
    let rad = gmst_rad(micros) + longitude_deg.to_radians();
    (rad.rem_euclid(TAU) * 12.0 / PI).rem_euclid(24.0)
}

type Mat3 = [[f64; 3]; 3];

fn mat_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut r = [[0.0; 3]; 3];
    for (i, row) in r.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    r
}

/// Rotation about the x axis (SOFA `Rx` convention).
fn rot_x(phi: f64) -> Mat3 {
    let (s, c) = phi.sin_cos();
    [[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]]
}

/// Rotation about the y axis (SOFA `Ry` convention).
fn rot_y(phi: f64) -> Mat3 {
    let (s, c) = phi.sin_cos();
    [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]]
}

/// Rotation about the z axis (SOFA `Rz` convention).
fn rot_z(phi: f64) -> Mat3 {
    let (s, c) = phi.sin_cos();
    [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]
}

/// The slowly varying part of the ICRS → true-equator-of-date transform.
#[derive(Debug, Clone, Copy)]
pub struct ApparentFrame {
    /// Earth velocity over c in the J2000 equatorial frame (aberration).
    aberration: [f64; 3],
    /// Nutation × precession matrix (J2000 mean → true of date).
    npb: Mat3,
    /// Equation of the equinoxes in radians (GAST − GMST).
    eqeq: f64,
}

impl ApparentFrame {
    /// The frame at `micros` since the Unix epoch.
    pub fn at(micros: i64) -> Self {
        let t = tt_centuries(micros);
        let deg = |d: f64| d.to_radians();

        // Mean obliquity of the ecliptic, IAU 2006.
        let eps0 = (84_381.406
            + t * (-46.836_769
                + t * (-0.000_183_1
                    + t * (0.002_003_40 + t * (-0.000_000_576 + t * -0.000_000_043_4)))))
            * ARCSEC;

        // Nutation, four largest terms (Meeus ch. 22), arc seconds.
        let omega = deg(125.044_52 - 1_934.136_261 * t + 0.002_070_8 * t * t);
        let l_sun = deg(280.466_5 + 36_000.769_8 * t);
        let l_moon = deg(218.316_5 + 481_267.881_3 * t);
        let dpsi =
            (-17.20 * omega.sin() - 1.32 * (2.0 * l_sun).sin() - 0.23 * (2.0 * l_moon).sin()
                + 0.21 * (2.0 * omega).sin())
                * ARCSEC;
        let deps = (9.20 * omega.cos() + 0.57 * (2.0 * l_sun).cos() + 0.10 * (2.0 * l_moon).cos()
            - 0.09 * (2.0 * omega).cos())
            * ARCSEC;

        // Precession, IAU 2006 (P03) equatorial angles.
        let zeta = (2.650_545
            + t * (2_306.083_227
                + t * (0.298_849_9
                    + t * (0.018_018_28 + t * (-0.000_005_971 + t * -0.000_000_317_3)))))
            * ARCSEC;
        let z = (-2.650_545
            + t * (2_306.077_181
                + t * (1.092_734_8
                    + t * (0.018_268_37 + t * (-0.000_028_596 + t * -0.000_000_290_4)))))
            * ARCSEC;
        let theta = t
            * (2_004.191_903
                + t * (-0.429_493_4
                    + t * (-0.041_822_64 + t * (-0.000_007_089 + t * -0.000_000_127_4))))
            * ARCSEC;
        let precession = mat_mul(&rot_z(-z), &mat_mul(&rot_y(theta), &rot_z(-zeta)));
        let nutation = mat_mul(
            &rot_x(-(eps0 + deps)),
            &mat_mul(&rot_z(-dpsi), &rot_x(eps0)),
        );
        let npb = mat_mul(&nutation, &precession);

        // Annual aberration (Meeus ch. 23 and 25): the Sun's true longitude,
        // referred to the J2000 equinox, and the orbit's eccentricity term.
        let mean_anomaly = deg(357.529_11 + 35_999.050_29 * t - 0.000_153_7 * t * t);
        let centre = (1.914_602 - 0.004_817 * t - 0.000_014 * t * t) * mean_anomaly.sin()
            + (0.019_993 - 0.000_101 * t) * (2.0 * mean_anomaly).sin()
            + 0.000_289 * (3.0 * mean_anomaly).sin();
        let sun =
            deg(280.466_46 + 36_000.769_83 * t + 0.000_303_2 * t * t + centre - 1.396_971 * t);
        let e = 0.016_708_634 - 0.000_042_037 * t - 0.000_000_126_7 * t * t;
        let perihelion = deg(102.937_35 + 1.719_46 * t + 0.000_46 * t * t - 1.396_971 * t);
        let kappa = 20.495_52 * ARCSEC;
        // Earth velocity / c in ecliptic J2000 coordinates, then equatorial.
        let vx = kappa * (sun.sin() - e * perihelion.sin());
        let vy = -kappa * (sun.cos() - e * perihelion.cos());
        let eps2000 = 84_381.406 * ARCSEC;
        let aberration = [vx, vy * eps2000.cos(), vy * eps2000.sin()];

        Self {
            aberration,
            npb,
            eqeq: dpsi * eps0.cos(),
        }
    }

    /// True right ascension and declination of date (radians) of a source at
    /// ICRS `(ra, dec)` in radians.
    #[inline]
    pub fn apparent(&self, ra: f64, dec: f64) -> (f64, f64) {
        let (sr, cr) = ra.sin_cos();
        let (sd, cd) = dec.sin_cos();
        let p = [
            cd * cr + self.aberration[0],
            cd * sr + self.aberration[1],
            sd + self.aberration[2],
        ];
        let m = &self.npb;
        let q = [
            m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2],
            m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2],
            m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2],
        ];
        let ra_t = q[1].atan2(q[0]);
        let dec_t = q[2].atan2(q[0].hypot(q[1]));
        (ra_t, dec_t)
    }
}

/// Evaluates [`ApparentFrame`] once per hour of time, for sorted or
/// clustered timestamps.
#[derive(Debug, Default)]
pub struct FrameCache {
    hour: Option<i64>,
    frame: Option<ApparentFrame>,
}

/// Microseconds in one hour.
const MICROS_PER_HOUR: i64 = 3_600_000_000;

impl FrameCache {
    /// The frame for the hour containing `micros`.
    #[inline]
    pub fn get(&mut self, micros: i64) -> ApparentFrame {
        let hour = micros.div_euclid(MICROS_PER_HOUR);
        match (self.hour, self.frame) {
            (Some(h), Some(frame)) if h == hour => frame,
            _ => {
                let frame = ApparentFrame::at(hour * MICROS_PER_HOUR + MICROS_PER_HOUR / 2);
                self.hour = Some(hour);
                self.frame = Some(frame);
                frame
            }
        }
    }
}

/// Local apparent hour angle (radians, `[−π, π)`) and true declination
/// (radians) at `micros` for ICRS `(ra, dec)` in radians, at east longitude
/// `longitude` radians.
#[inline]
pub fn hour_angle_dec(
    frame: &ApparentFrame,
    micros: i64,
    ra: f64,
    dec: f64,
    longitude: f64,
) -> (f64, f64) {
    let (ra_t, dec_t) = frame.apparent(ra, dec);
    let gast = gmst_rad(micros) + frame.eqeq;
    let ha = (gast + longitude - ra_t + PI).rem_euclid(TAU) - PI;
    diurnal_aberration(ha, dec_t)
}

/// The site's speed from the Earth's rotation over the speed of light:
/// ω · (distance of [`ALMA_ITRF_M`] from the rotation axis) / c, ≈ 0.295″.
const DIURNAL_ABERRATION: f64 = 7.292_115_0e-5 * 5_877_771.9 / 299_792_458.0;

/// `(ha, dec)` as seen from the moving site: the apparent direction moves
/// towards the east point by [`DIURNAL_ABERRATION`] (0.02 s of time ×
/// sec δ in hour angle at transit), as in astropy's topocentric frames.
#[inline]
fn diurnal_aberration(ha: f64, dec: f64) -> (f64, f64) {
    let (sh, ch) = ha.sin_cos();
    let (sd, cd) = dec.sin_cos();
    // x to the meridian, y to the east, z to the pole
    let (x, y, z) = (cd * ch, -cd * sh + DIURNAL_ABERRATION, sd);
    ((-y).atan2(x), z.atan2(x.hypot(y)))
}

/// Geometric elevation (radians) for hour angle `ha`, declination `dec` and
/// geodetic latitude `lat`, all in radians.
#[inline]
pub fn elevation_rad(ha: f64, dec: f64, lat: f64) -> f64 {
    let s = lat.sin() * dec.sin() + lat.cos() * dec.cos() * ha.cos();
    s.clamp(-1.0, 1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microseconds since the Unix epoch of a UTC calendar instant.
    fn micros(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    fn hms(hours: f64) -> f64 {
        hours * 3600.0
    }

    #[test]
    fn meeus_example_12a_midnight() {
        // Meeus, Astronomical Algorithms (2nd ed.), example 12.a:
        // 1987 April 10, 0h UT: mean sidereal time 13h10m46.3668s (IAU 1982).
        let lst = lmst_hours(micros(1987, 4, 10, 0, 0, 0), 0.0);
        let expected = 13.0 + 10.0 / 60.0 + 46.3668 / 3600.0;
        // IAU 2006 and IAU 1982 differ by a few ms at this date.
        assert!((hms(lst) - hms(expected)).abs() < 0.01, "{lst}");
    }

    #[test]
    fn meeus_example_12b() {
        // Meeus example 12.b: 1987 April 10, 19h21m00s UT: 8h34m57.0896s.
        let lst = lmst_hours(micros(1987, 4, 10, 19, 21, 0), 0.0);
        let expected = 8.0 + 34.0 / 60.0 + 57.0896 / 3600.0;
        assert!((hms(lst) - hms(expected)).abs() < 0.01, "{lst}");
    }

    #[test]
    fn era_at_j2000() {
        // ERA(J2000.0) = 2π × 0.7790572732640 by definition.
        let turns = era_turns(micros(2000, 1, 1, 12, 0, 0));
        assert!((turns - 0.779_057_273_264).abs() < 1e-12);
    }

    #[test]
    fn frame_matrix_is_a_rotation() {
        let f = ApparentFrame::at(micros(2024, 6, 1, 0, 0, 0));
        for i in 0..3 {
            for j in 0..3 {
                let dot: f64 = (0..3).map(|k| f.npb[i][k] * f.npb[j][k]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn precession_moves_the_equinox_by_the_expected_rate() {
        // A source at the J2000 equinox on the equator drifts ~50.3″ a year
        // in ecliptic longitude, ~46.1″ a year in RA.
        let f = ApparentFrame::at(micros(2010, 1, 1, 12, 0, 0));
        let (ra, _) = f.apparent(1e-12, 0.0);
        let arcsec_per_year = ra / ARCSEC / 10.0;
        // Nutation and aberration add up to ~±40″ over ten years.
        assert!((arcsec_per_year - 46.1).abs() < 5.0, "{arcsec_per_year}");
    }

    #[test]
    fn transit_elevation_is_ninety_minus_zenith_distance() {
        let lat = ALMA_LATITUDE_DEG.to_radians();
        let el = elevation_rad(0.0, lat, lat);
        // asin near 1 resolves only ~1e-8 rad (2 mas).
        assert!((el - PI / 2.0).abs() < 1e-7);
        let el = elevation_rad(0.0, 0.0, lat);
        assert!((el.to_degrees() - (90.0 + ALMA_LATITUDE_DEG)).abs() < 1e-9);
    }

    #[test]
    fn frame_cache_reuses_within_the_hour() {
        let mut cache = FrameCache::default();
        let t = micros(2024, 1, 1, 3, 10, 0);
        let a = cache.get(t);
        let b = cache.get(t + 40 * 60 * 1_000_000);
        assert_eq!(a.eqeq, b.eqeq);
        let c = cache.get(t + 60 * 60 * 1_000_000);
        assert_ne!(a.eqeq, c.eqeq);
    }
}
