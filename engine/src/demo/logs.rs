//! ACS XML log files: one per host per hour, some gzipped, a few records
//! broken on purpose, with the photonic-reference lock losses.

use std::fmt::Write;
use std::path::Path;

use super::antennas::ANTENNAS;
use super::rng::DemoRng;
use super::weather::Weather;
use super::write::{atomic, gzip};
use super::{
    LOCK_LOSS, LOCK_LOSS_BASE_PER_HOUR, LOCK_LOSS_COLD_BELOW_C, LOCK_LOSS_COLD_FACTOR,
    MalformedRecord, Spec,
};
use crate::error::Result;

/// Hosts that write logs, with their container process.
pub const HOSTS: [(&str, &str); 3] = [
    ("gas01", "CONTROL/ACC/cppContainer"),
    ("gas02", "CORR/CDP/javaContainer"),
    ("gas03", "OBOPS/ACC/javaContainer"),
];

/// Every this many files, one record is broken on purpose.
const MALFORMED_EVERY: u32 = 47;

const LEVELS: [(&str, f64); 7] = [
    ("Trace", 0.15),
    ("Debug", 0.30),
    ("Info", 0.35),
    ("Notice", 0.06),
    ("Warning", 0.09),
    ("Error", 0.04),
    ("Critical", 0.01),
];

struct Record {
    minute_us: i64,
    xml: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn timestamp(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .expect("timestamp in range")
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

/// One routine record of a host.
fn routine(rng: &mut DemoRng, host: &str, process: &str, us: i64, log_id: u64) -> String {
    let level = *rng.weighted(&LEVELS);
    let antenna = ANTENNAS[rng.below(ANTENNAS.len() as u64) as usize].name;
    let (file, routine, source, message, data): (&str, &str, String, String, Vec<(&str, String)>) =
        match host {
            "gas01" => match rng.below(4) {
                0 => (
                    "MountImpl.cpp",
                    "MountImpl::setPointingModel",
                    format!("CONTROL/{antenna}/Mount"),
                    format!(
                        "Pointing model updated for {antenna}: 22 terms, rms 1.{}\"",
                        rng.below(9)
                    ),
                    vec![],
                ),
                1 => (
                    "IFProcImpl.cpp",
                    "IFProcImpl::updateThreadAction",
                    format!("CONTROL/{antenna}/IFProc{}", rng.below(2)),
                    format!(
                        "Total power detector readings <BB_1..BB_4> within limits & gains set to {} dB",
                        rng.below(16)
                    ),
                    vec![("Gain", format!("{}", rng.below(16)))],
                ),
                2 => (
                    "LO2Impl.cpp",
                    "LO2Impl::setFrequency",
                    format!("CONTROL/{antenna}/LO2BBpr{}", rng.below(4)),
                    format!("LO2 tuned to {:.6} GHz", 8.0 + 6.0 * rng.uniform()),
                    vec![],
                ),
                _ => (
                    "AntennaImpl.cpp",
                    "AntennaImpl::checkStatus",
                    format!("CONTROL/{antenna}"),
                    format!(
                        "Antenna {antenna} status:\n  drive: OK\n  cryostat: {:.2} K",
                        3.9 + 0.3 * rng.uniform()
                    ),
                    vec![],
                ),
            },
            "gas02" => (
                "CDPMasterImpl.java",
                "alma.Correlator.CDPMasterImpl.processSubscan",
                "CORR/CDP_MASTER".to_string(),
                format!(
                    "Subscan {} processed: {} baselines, dump time 0.{}s",
                    rng.below(900),
                    2016 + rng.below(100),
                    1 + rng.below(9)
                ),
                vec![("Subarray", "Array001".to_string())],
            ),
            _ => (
                "SchedulingMaster.java",
                "alma.scheduling.master.SchedulingMaster.runQueue",
                "OBOPS/SCHEDULING_MASTER".to_string(),
                format!(
                    "Queue updated: {} SBs runnable at LST {:.2} h",
                    10 + rng.below(90),
                    24.0 * rng.uniform()
                ),
                vec![],
            ),
        };
    let line = 100 + rng.below(2000);
    let thread = ["main", "RequestProcessor-3", "MonitorThread", "Worker-1"][rng.below(4) as usize];
    let mut xml = format!(
        "<{level} TimeStamp=\"{}\" File=\"{file}\" Line=\"{line}\" Routine=\"{}\" Host=\"{host}\" Process=\"{process}\" SourceObject=\"{}\" Thread=\"{thread}\" Context=\"\" LogId=\"{log_id}\"",
        timestamp(us),
        escape(routine),
        escape(&source)
    );
    if host == "gas01" {
        write!(
            xml,
            " Audience=\"Developer\" Array=\"Array001\" Antenna=\"{antenna}\""
        )
        .expect("write");
    }
    if level == "Trace" && data.is_empty() {
        xml.push_str(" />");
        return xml;
    }
    xml.push('>');
    if rng.chance(0.3) {
        xml.push_str(&escape(&message));
    } else {
        write!(xml, "<![CDATA[{message}]]>").expect("write");
    }
    for (name, value) in data {
        write!(xml, "<Data Name=\"{name}\">{}</Data>", escape(&value)).expect("write");
    }
    write!(xml, "</{level}>").expect("write");
    xml
}

/// A lock-loss record from an antenna's LORR.
fn lock_loss(rng: &mut DemoRng, antenna: &str, us: i64, temperature: f64, log_id: u64) -> String {
    let pr = 1 + rng.below(6);
    format!(
        "<Error TimeStamp=\"{}\" File=\"LORRImpl.cpp\" Line=\"812\" Routine=\"LORRImpl::monitorLock\" Host=\"gas01\" Process=\"CONTROL/ACC/cppContainer\" SourceObject=\"CONTROL/{antenna}/LORR\" Thread=\"LORRMonitorThread\" Context=\"\" LogId=\"{log_id}\" Priority=\"8\" Audience=\"Operator\" Array=\"Array001\" Antenna=\"{antenna}\"><![CDATA[Photonic reference lock lost on CONTROL/{antenna}/LORR (PhotonicReference{pr}); re-locking]]><Data Name=\"PhotonicReference\">PhotonicReference{pr}</Data><Data Name=\"AmbientTemperature\">{temperature:.2}</Data></Error>",
        timestamp(us)
    )
}

/// A record broken on purpose, and what is wrong with it.
fn malformed(kind: u32, us: i64) -> (String, &'static str) {
    let ts = timestamp(us);
    match kind % 4 {
        0 => (
            "<Info TimeStamp=\"2026-13-45T99:00:00.000\" Routine=\"x\" Host=\"gas01\"><![CDATA[bad timestamp]]></Info>".to_string(),
            "invalid TimeStamp",
        ),
        1 => (
            format!("<Warning TimeStamp=\"{ts}\" Routine=\"x\" Host=\"gas01\">temperature < limit & rising</Warning>"),
            "unescaped '<' and '&' in message text",
        ),
        2 => (
            format!("<Info Routine=\"x\" Host=\"gas02\"><![CDATA[record without a TimeStamp at {ts}]]></Info>"),
            "missing TimeStamp",
        ),
        _ => (
            format!("<Infoo TimeStamp=\"{ts}\" Routine=\"x\"><![CDATA[unknown level element]]></Infoo>"),
            "unknown log level element",
        ),
    }
}

/// Writes the log files of one day; returns (well-formed records, broken ones).
pub fn write_day(
    out: &Path,
    spec: &Spec,
    weather: &Weather,
    day: u32,
) -> Result<(u64, Vec<MalformedRecord>)> {
    let mut rng = DemoRng::new(spec.seed, &format!("logs/{day}"));
    let mut total = 0;
    let mut broken = vec![];
    for hour in 0..24u32 {
        let hour_start = spec.start_us() + (i64::from(day) * 24 + i64::from(hour)) * 3_600_000_000;
        for (h, (host, process)) in HOSTS.iter().enumerate() {
            let mut records: Vec<Record> = vec![];
            let mut log_id = u64::from(day) * 1_000_000 + u64::from(hour) * 10_000;
            for _ in 0..rng.poisson(25.0) {
                let us = hour_start + rng.below(3_600_000) as i64 * 1000;
                log_id += 1;
                records.push(Record {
                    minute_us: us,
                    xml: routine(&mut rng, host, process, us, log_id),
                });
            }
            if *host == "gas01" {
                for antenna in ANTENNAS.iter().map(|a| a.name) {
                    let factor = LOCK_LOSS
                        .iter()
                        .find(|(a, _)| *a == antenna)
                        .map_or(1.0, |l| l.1);
                    let max_rate = LOCK_LOSS_BASE_PER_HOUR * factor * LOCK_LOSS_COLD_FACTOR;
                    for _ in 0..rng.poisson(max_rate) {
                        let offset_ms = rng.below(3_600_000) as i64;
                        let minute = (day as usize * 24 + hour as usize) * 60
                            + (offset_ms / 60_000) as usize;
                        let temperature = weather.temperature(minute);
                        // Thinning: keep every cold candidate, a quarter of the others.
                        let keep = temperature < LOCK_LOSS_COLD_BELOW_C
                            || rng.chance(1.0 / LOCK_LOSS_COLD_FACTOR);
                        if keep {
                            let us = hour_start + offset_ms * 1000;
                            log_id += 1;
                            records.push(Record {
                                minute_us: us,
                                xml: lock_loss(&mut rng, antenna, us, temperature, log_id),
                            });
                        }
                    }
                }
            }
            records.sort_by_key(|r| r.minute_us);
            let file_no = (day * 24 + hour) * HOSTS.len() as u32 + h as u32;
            let date = chrono::DateTime::from_timestamp_micros(hour_start)
                .expect("valid hour")
                .format("%Y-%m-%dT%H");
            let gz = hour % 6 == 0;
            let rel = format!(
                "logs/acs/{host}/{host}-{date}.xml{}",
                if gz { ".gz" } else { "" }
            );
            let mut xml = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Log>\n<Header Name=\"NameForXmlDocument\" Type=\"LOGFILE\" />\n",
            );
            total += records.len() as u64;
            for (i, r) in records.iter().enumerate() {
                xml.push_str(&r.xml);
                xml.push('\n');
                if i == records.len() / 2 && file_no % MALFORMED_EVERY == MALFORMED_EVERY - 1 {
                    let (bad, reason) = malformed(file_no / MALFORMED_EVERY, r.minute_us);
                    xml.push_str(&bad);
                    xml.push('\n');
                    broken.push(MalformedRecord {
                        file: rel.clone(),
                        reason: reason.to_string(),
                    });
                }
            }
            xml.push_str("</Log>\n");
            let path = out.join(&rel);
            if gz {
                gzip(&path, xml.as_bytes())?;
            } else {
                atomic(&path, xml.as_bytes())?;
            }
        }
    }
    Ok((total, broken))
}
