//! `monitor.samples` (IF total power and weather) and
//! `monitor.lo2_frequency_offsets`.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    Float64Array, Int16Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};

use super::antennas::ANTENNAS;
use super::rng::DemoRng;
use super::weather::Weather;
use super::write::{arc, parquet};
use super::{DOMINANT_LO2, LO2_BACKGROUND_PER_DAY, PLANTED_DRIFTS, Spec};
use crate::error::Result;
use crate::tables;

/// Basebands of an IF processor.
pub const BASEBANDS: [&str; 4] = ["BB_1", "BB_2", "BB_3", "BB_4"];
const MINUTE_US: i64 = 60_000_000;
const DAY_US: i64 = 86_400_000_000;
/// Typical ambient temperature the detectors were calibrated at.
const REFERENCE_TEMPERATURE_C: f64 = -2.5;

/// Antenna indices in lexical order of name, the files' sort order.
fn antennas_by_name() -> Vec<usize> {
    let mut idx: Vec<usize> = (0..ANTENNAS.len()).collect();
    idx.sort_by_key(|&i| ANTENNAS[i].name);
    idx
}

#[derive(Default)]
struct Columns {
    time: Vec<i64>,
    antenna: Vec<Option<&'static str>>,
    device: Vec<&'static str>,
    monitor_point: Vec<&'static str>,
    polarization: Vec<Option<i16>>,
    baseband: Vec<Option<&'static str>>,
    value: Vec<f64>,
    unit: Vec<&'static str>,
}

impl Columns {
    #[expect(clippy::too_many_arguments, reason = "one argument per column")]
    fn push(
        &mut self,
        time: i64,
        antenna: Option<&'static str>,
        device: &'static str,
        monitor_point: &'static str,
        polarization: Option<i16>,
        baseband: Option<&'static str>,
        value: f64,
        unit: &'static str,
    ) {
        self.time.push(time);
        self.antenna.push(antenna);
        self.device.push(device);
        self.monitor_point.push(monitor_point);
        self.polarization.push(polarization);
        self.baseband.push(baseband);
        self.value.push(value);
        self.unit.push(unit);
    }

    fn into_batch(self) -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(tables::samples_file_schema()),
            vec![
                arc(TimestampMicrosecondArray::from(self.time).with_timezone("UTC")),
                arc(StringArray::from(self.antenna)),
                arc(StringArray::from(self.device)),
                arc(StringArray::from(self.monitor_point)),
                arc(Int16Array::from(self.polarization)),
                arc(StringArray::from(self.baseband)),
                arc(Float64Array::from(self.value)),
                arc(StringArray::from(self.unit)),
            ],
        )
        .expect("columns match the schema")
    }
}

/// Writes one day of `monitor.samples`, sorted by (antenna, polarization,
/// baseband, time) with the weather rows (no antenna) last, by time.
pub fn write_samples_day(out: &Path, spec: &Spec, weather: &Weather, day: u32) -> Result<u64> {
    let day_start = spec.start_us() + i64::from(day) * DAY_US;
    let span_days = f64::from(spec.days());
    let mut noise = DemoRng::new(spec.seed, &format!("monitor.samples/noise/{day}"));
    let mut cols = Columns::default();
    for a in antennas_by_name() {
        let antenna = ANTENNAS[a].name;
        for pol in 0..2i16 {
            let device = if pol == 0 { "IFProc0" } else { "IFProc1" };
            for baseband in BASEBANDS {
                let mut chan = DemoRng::new(
                    spec.seed,
                    &format!("monitor.samples/channel/{antenna}/{pol}/{baseband}"),
                );
                let base = 0.9 + 0.8 * chan.uniform();
                let temp_coeff = 0.0004 * chan.normal();
                let drift = PLANTED_DRIFTS.iter().find(|d| {
                    d.antenna == antenna && d.polarization == pol && d.baseband == baseband
                });
                for m in 0..1440 {
                    let minute = day as usize * 1440 + m;
                    let t_days = minute as f64 / 1440.0;
                    let mut v = base
                        + temp_coeff * (weather.temperature(minute) - REFERENCE_TEMPERATURE_C)
                        + 0.003 * noise.normal();
                    if let Some(d) = drift {
                        v += d.volts_per_day * (t_days - d.begins_at * span_days).max(0.0);
                    }
                    cols.push(
                        day_start + m as i64 * MINUTE_US,
                        Some(antenna),
                        device,
                        "TOTAL_POWER",
                        Some(pol),
                        Some(baseband),
                        (v * 1e5).round() / 1e5,
                        "V",
                    );
                }
            }
        }
    }
    let mut wx = DemoRng::new(spec.seed, &format!("monitor.samples/weather/{day}"));
    for m in 0..1440 {
        let minute = day as usize * 1440 + m;
        let t = day_start + m as i64 * MINUTE_US;
        let temp = weather.temperature(minute);
        let points = [
            (
                "AMBIENT_TEMPERATURE",
                (temp * 100.0).round() / 100.0,
                "degC",
            ),
            (
                "PRESSURE",
                (555.0 + 0.8 * wx.normal() * 10.0).round() / 10.0,
                "hPa",
            ),
            (
                "RELATIVE_HUMIDITY",
                (20.0 - 2.0 * temp + 3.0 * wx.normal())
                    .clamp(2.0, 100.0)
                    .round(),
                "%",
            ),
            (
                "WIND_SPEED",
                ((6.0 + 3.0 * wx.normal()).abs() * 10.0).round() / 10.0,
                "m/s",
            ),
        ];
        for (point, value, unit) in points {
            cols.push(t, None, "MeteoCentral", point, None, None, value, unit);
        }
    }
    let rows = cols.time.len() as u64;
    let date = chrono::DateTime::from_timestamp_micros(day_start)
        .expect("valid day")
        .format("%Y-%m-%d");
    write_text_day(&out.join(format!("monitor/text/{date}")), &cols)?;
    parquet(
        &out.join(format!("monitor/samples/date={date}/samples.parquet")),
        &cols.into_batch(),
    )?;
    Ok(rows)
}

/// Antennas whose IF total power is also written as monitor text files.
pub const TEXT_MONITOR_ANTENNAS: [&str; 2] = ["DA44", "DV07"];

/// Writes one day of monitor text files (`<dir>/<antenna>/<device>/<POINT>.txt`,
/// `-` for site-wide points): the IF total power of
/// [`TEXT_MONITOR_ANTENNAS`], four basebands per line, and the weather.
fn write_text_day(dir: &Path, cols: &Columns) -> Result<()> {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    // (antenna, device, point) -> (unit, values by time)
    type Files<'a> = BTreeMap<(&'a str, &'a str, &'a str), (&'a str, BTreeMap<i64, Vec<f64>>)>;
    let mut files: Files = BTreeMap::new();
    for i in 0..cols.time.len() {
        let antenna = match cols.antenna[i] {
            Some(a) if TEXT_MONITOR_ANTENNAS.contains(&a) => a,
            Some(_) => continue,
            None => "-",
        };
        let (_, lines) = files
            .entry((antenna, cols.device[i], cols.monitor_point[i]))
            .or_insert_with(|| (cols.unit[i], BTreeMap::new()));
        // Rows come per channel in baseband order, so values line up BB_1..BB_4.
        lines.entry(cols.time[i]).or_default().push(cols.value[i]);
    }
    for ((antenna, device, point), (unit, lines)) in files {
        let mut text = format!("# {antenna} {device} {point}\n# unit: {unit}\n");
        for (t, values) in lines {
            let time = chrono::DateTime::from_timestamp_micros(t)
                .expect("valid time")
                .format("%Y-%m-%dT%H:%M:%S%.3f");
            write!(text, "{time}").expect("write to string");
            for v in values {
                write!(text, " {v}").expect("write to string");
            }
            text.push('\n');
        }
        super::write::atomic(
            &dir.join(antenna).join(device).join(format!("{point}.txt")),
            text.as_bytes(),
        )?;
    }
    Ok(())
}

/// Writes `monitor/lo2_frequency_offsets.parquet`, sorted by time.
pub fn write_lo2(out: &Path, spec: &Spec) -> Result<u64> {
    let mut rng = DemoRng::new(spec.seed, "monitor.lo2_frequency_offsets");
    let span_us = spec.end_us() - spec.start_us();
    let mut events: Vec<(i64, &'static str, i16, f64)> = vec![];
    for antenna in ANTENNAS.iter().map(|a| a.name) {
        for pair in 0..4i16 {
            let dominant = DOMINANT_LO2
                .iter()
                .find(|(a, p, _)| *a == antenna && *p == pair);
            let per_day = dominant.map_or(LO2_BACKGROUND_PER_DAY, |d| d.2);
            let n = rng.poisson(per_day * f64::from(spec.days()));
            for _ in 0..n {
                let t = spec.start_us() + (rng.uniform() * span_us as f64) as i64 / 1000 * 1000;
                let scale = if dominant.is_some() { 3000.0 } else { 400.0 };
                let offset = (scale * rng.normal()).round();
                events.push((t, antenna, pair, offset));
            }
        }
    }
    events.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    const DEVICES: [&str; 4] = ["LO2BBpr0", "LO2BBpr1", "LO2BBpr2", "LO2BBpr3"];
    let batch = RecordBatch::try_new(
        Arc::new(tables::lo2_schema()),
        vec![
            arc(
                TimestampMicrosecondArray::from_iter_values(events.iter().map(|e| e.0))
                    .with_timezone("UTC"),
            ),
            arc(StringArray::from_iter_values(events.iter().map(|e| e.1))),
            arc(StringArray::from_iter_values(
                events.iter().map(|e| DEVICES[e.2 as usize]),
            )),
            arc(Int16Array::from_iter_values(events.iter().map(|e| e.2))),
            arc(Float64Array::from_iter_values(events.iter().map(|e| e.3))),
        ],
    )
    .expect("columns match the schema");
    parquet(&out.join("monitor/lo2_frequency_offsets.parquet"), &batch)?;
    Ok(events.len() as u64)
}
