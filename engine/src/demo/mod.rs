//! The synthetic ALMA demo dataset.
//!
//! Deterministic operations data, realistic in names and units: the same seed
//! and scale give byte-identical files. Scale 1 covers [`DAYS_PER_SCALE`] days
//! from [`START`]; the monitor data, logs, executions and tickets grow
//! linearly with the scale.
//!
//! # What is planted, and where to find it
//!
//! Every question of the mission has an answer in the data, planted on
//! purpose; the constants below are the truth that tests derive their
//! expectations from.
//!
//! - **IF amplifier degradation** ([`PLANTED_DRIFTS`]): in `monitor.samples`,
//!   the total-power detector readings (`device` `IFProc0`/`IFProc1`,
//!   `monitor_point` `TOTAL_POWER`, volts) of four antenna × polarization ×
//!   baseband channels drift linearly from a start fraction of the time span
//!   on; every other channel is flat with 3 mV of white noise. The drifting
//!   channels are the four largest `|regr_slope(value, days)|`.
//! - **LO2 modules to replace** ([`DOMINANT_LO2`]): in
//!   `monitor.lo2_frequency_offsets`, three antenna/baseband-pair modules
//!   report frequency-offset events at 15–30× the background rate
//!   ([`LO2_BACKGROUND_PER_DAY`] per module per day).
//! - **Photonic reference lock losses** ([`LOCK_LOSS`]): in the ACS logs of
//!   host `gas01`, `Error` records "Photonic reference lock lost" from
//!   `CONTROL/<antenna>/LORR`. Their hourly rate per antenna is
//!   [`LOCK_LOSS_BASE_PER_HOUR`], times the antenna's factor in
//!   [`LOCK_LOSS`], times [`LOCK_LOSS_COLD_FACTOR`] while the ambient
//!   temperature (`monitor.samples`, `MeteoCentral`/`AMBIENT_TEMPERATURE`) is
//!   below [`LOCK_LOSS_COLD_BELOW_C`]; the coldest hours are the early
//!   morning (about 09–12 UTC).
//! - **Observing time per executive**: `ops.executions` draws projects with
//!   the ALMA shares of [`EXECUTIVE_SHARES`].
//! - **Band pressure by LST**: `ops.projects` puts [`PRESSURE_PEAK_SHARE`] of
//!   the Band 6 and 7 projects at RA 16–20 h, so those bands are
//!   oversubscribed at LST 16–20 h.
//! - **Stale calibrators** ([`STALE_CALIBRATORS`]): in
//!   `calibrators.measurements`, these sources were last observed in the
//!   named band that many days before the end of the survey; every other
//!   source and band was observed within the last [`FRESH_WITHIN_DAYS`] days.
//! - **Tickets**: the JIRA export names the antennas above in open tickets.
//! - **Malformed log records**: a few records in the ACS logs are broken on
//!   purpose; `manifest.json` lists each one with its file and reason.

mod antennas;
mod calibrators;
mod jira;
mod logs;
mod monitor;
mod ops;
mod rng;
mod weather;
mod write;

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

pub use antennas::{ANTENNAS, Antenna};
pub use rng::DemoRng;

/// First instant of the dataset.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// First instant of the dataset, as text.
pub const START: &str = "2026-01-01T00:00:00Z";
/// Days of monitor data, logs and executions per unit of scale.
pub const DAYS_PER_SCALE: u32 = 4;
/// Version of the generator; bumped whenever its output changes.
pub const GENERATOR_VERSION: u32 = 4;
/// Name of the manifest file written last into the dataset directory.
pub const MANIFEST: &str = "manifest.json";

/// A planted drift of one total-power detector channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlantedDrift {
    /// Antenna name.
    pub antenna: &'static str,
    /// Polarization (0 or 1; device `IFProc0` or `IFProc1`).
    pub polarization: i16,
    /// Baseband, `BB_1` … `BB_4`.
    pub baseband: &'static str,
    /// Drift rate in volts per day once it has begun.
    pub volts_per_day: f64,
    /// When the drift begins, as a fraction of the dataset's time span.
    pub begins_at: f64,
}

/// The drifting IF channels.
pub const PLANTED_DRIFTS: [PlantedDrift; 4] = [
    PlantedDrift {
        antenna: "DV07",
        polarization: 1,
        baseband: "BB_3",
        volts_per_day: 0.021,
        begins_at: 0.25,
    },
    PlantedDrift {
        antenna: "DA44",
        polarization: 0,
        baseband: "BB_1",
        volts_per_day: -0.017,
        begins_at: 0.0,
    },
    PlantedDrift {
        antenna: "PM03",
        polarization: 1,
        baseband: "BB_4",
        volts_per_day: 0.015,
        begins_at: 0.1,
    },
    PlantedDrift {
        antenna: "CM09",
        polarization: 0,
        baseband: "BB_2",
        volts_per_day: -0.024,
        begins_at: 0.5,
    },
];

/// LO2 frequency-offset events per module (antenna × baseband pair) per day.
pub const LO2_BACKGROUND_PER_DAY: f64 = 0.4;

/// Modules with many LO2 frequency offsets: (antenna, baseband pair, events per day).
pub const DOMINANT_LO2: [(&str, i16, f64); 3] =
    [("DV11", 2, 12.0), ("DA58", 0, 9.0), ("CM05", 1, 6.0)];

/// Photonic-reference lock losses per antenna per hour, before factors.
pub const LOCK_LOSS_BASE_PER_HOUR: f64 = 0.004;
/// Antennas whose LORR loses the photonic reference more often: (antenna, factor).
pub const LOCK_LOSS: [(&str, f64); 2] = [("DV18", 10.0), ("DA49", 6.0)];
/// Ambient temperature (°C) below which lock losses are more frequent.
pub const LOCK_LOSS_COLD_BELOW_C: f64 = -5.0;
/// Factor on the lock-loss rate in the cold.
pub const LOCK_LOSS_COLD_FACTOR: f64 = 4.0;

/// Executives and their shares of the observing time.
pub const EXECUTIVE_SHARES: [(&str, f64); 5] = [
    ("EU", 0.3375),
    ("NA", 0.3375),
    ("EA", 0.225),
    ("CL", 0.09),
    ("OTHER", 0.01),
];

/// Share of Band 6 and 7 projects at RA 16–20 h.
pub const PRESSURE_PEAK_SHARE: f64 = 0.45;

/// Calibrators not observed in a band for a long time: (source, band, days before the survey's end).
pub const STALE_CALIBRATORS: [(&str, i32, i64); 4] = [
    ("J0854+2006", 3, 41),
    ("J1058+0133", 7, 26),
    ("J2258-2758", 3, 63),
    ("J2258-2758", 7, 57),
];
/// Every calibrator and band not in [`STALE_CALIBRATORS`] was observed within this many days of the survey's end.
pub const FRESH_WITHIN_DAYS: i64 = 10;

/// What was generated, written to `manifest.json` last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The generator version that wrote the data.
    pub generator_version: u32,
    /// The scale.
    pub scale: u32,
    /// The seed.
    pub seed: u64,
    /// First instant of the data.
    pub start: String,
    /// End of the data (exclusive).
    pub end: String,
    /// Rows written per table.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// ACS log records written (well-formed).
    pub log_records: u64,
    /// The log records broken on purpose.
    pub malformed_log_records: Vec<MalformedRecord>,
    /// JIRA issues in the export.
    pub jira_issues: u64,
}

/// One log record broken on purpose.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MalformedRecord {
    /// File, relative to the dataset directory.
    pub file: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Progress reporting during generation (a no-op, or a progress bar).
pub trait Progress: Sync {
    /// Called once with the number of steps.
    fn start(&self, steps: u64);
    /// Called after each step with a short label.
    fn step(&self, label: &str);
    /// Called when done.
    fn finish(&self);
}

/// Progress that reports nothing.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _steps: u64) {}
    fn step(&self, _label: &str) {}
    fn finish(&self) {}
}

/// Parameters shared by the table generators.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub scale: u32,
    pub seed: u64,
}

impl Spec {
    pub fn days(&self) -> u32 {
        self.scale * DAYS_PER_SCALE
    }

    /// Start of the dataset in microseconds since the Unix epoch.
    pub fn start_us(&self) -> i64 {
        start().timestamp_micros()
    }

    /// End of the dataset (exclusive) in microseconds since the Unix epoch.
    pub fn end_us(&self) -> i64 {
        self.start_us() + i64::from(self.days()) * 86_400_000_000
    }
}

/// Writes the demo dataset into `out` (created if missing).
///
/// Files already in `out` are overwritten; `manifest.json` is written last,
/// so a directory with a manifest holds a complete dataset.
pub fn generate(out: &Path, scale: u32, seed: u64, progress: &dyn Progress) -> Result<Manifest> {
    if scale == 0 {
        return Err(EngineError::Demo {
            path: out.to_path_buf(),
            message: "scale must be at least 1".to_string(),
        });
    }
    let spec = Spec { scale, seed };
    std::fs::create_dir_all(out).map_err(|e| EngineError::io(out, e))?;
    let manifest_path = out.join(MANIFEST);
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path).map_err(|e| EngineError::io(&manifest_path, e))?;
    }
    let weather = weather::Weather::new(&spec);
    progress.start(u64::from(spec.days()) * 2 + 5);

    let mut manifest = Manifest {
        generator_version: GENERATOR_VERSION,
        scale,
        seed,
        start: START.to_string(),
        end: DateTime::from_timestamp_micros(spec.end_us())
            .expect("valid end")
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        rows: Default::default(),
        log_records: 0,
        malformed_log_records: vec![],
        jira_issues: 0,
    };

    let mut rows = |table: &str, n: u64| *manifest.rows.entry(table.to_string()).or_default() += n;
    rows("ops.antennas", antennas::write(out)?);
    progress.step("ops.antennas");
    for day in 0..spec.days() {
        rows(
            "monitor.samples",
            monitor::write_samples_day(out, &spec, &weather, day)?,
        );
        progress.step("monitor.samples");
    }
    rows(
        "monitor.lo2_frequency_offsets",
        monitor::write_lo2(out, &spec)?,
    );
    progress.step("monitor.lo2_frequency_offsets");
    let (projects, executions) = ops::write(out, &spec)?;
    rows("ops.projects", projects);
    rows("ops.executions", executions);
    progress.step("ops");
    rows("calibrators.measurements", calibrators::write(out, &spec)?);
    progress.step("calibrators.measurements");
    for day in 0..spec.days() {
        let (records, malformed) = logs::write_day(out, &spec, &weather, day)?;
        manifest.log_records += records;
        manifest.malformed_log_records.extend(malformed);
        progress.step("ACS logs");
    }
    manifest.jira_issues = jira::write(out, &spec)?;
    progress.step("JIRA export");

    let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    write::atomic(&manifest_path, text.as_bytes())?;
    progress.finish();
    Ok(manifest)
}

/// Reads the manifest of a generated dataset, if there is a complete one.
pub fn read_manifest(dir: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Makes sure `dir` holds the dataset of this scale, seed and generator
/// version, generating it when it does not. Returns whether it generated.
pub fn ensure(dir: &Path, scale: u32, seed: u64, progress: &dyn Progress) -> Result<bool> {
    match read_manifest(dir) {
        Some(m)
            if m.generator_version == GENERATOR_VERSION && m.scale == scale && m.seed == seed =>
        {
            Ok(false)
        }
        _ => {
            generate(dir, scale, seed, progress)?;
            Ok(true)
        }
    }
}

/// Where the demo dataset lives inside a data directory.
pub fn dataset_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("demo")
}
