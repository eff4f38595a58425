//! `ops.projects` and `ops.executions`.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};

use super::rng::DemoRng;
use super::write::{arc, atomic, parquet};
use super::{EXECUTIVE_SHARES, PRESSURE_PEAK_SHARE, Spec};
use crate::error::Result;
use crate::tables::demo_table;

/// Projects in the demo cycle.
const PROJECTS: usize = 150;

const BANDS: [(i32, f64); 10] = [
    (1, 0.03),
    (2, 0.02),
    (3, 0.20),
    (4, 0.05),
    (5, 0.03),
    (6, 0.30),
    (7, 0.22),
    (8, 0.06),
    (9, 0.06),
    (10, 0.03),
];

struct Project {
    code: String,
    executive: &'static str,
    band: i32,
    array: &'static str,
}

/// Writes `ops/projects.csv` and `ops/executions.parquet`; returns their row counts.
pub fn write(out: &Path, spec: &Spec) -> Result<(u64, u64)> {
    let mut rng = DemoRng::new(spec.seed, "ops.projects");
    let mut csv = String::from("code,executive,band,requested_hours,ra_deg,dec_deg,array,grade\n");
    let mut projects = Vec::with_capacity(PROJECTS);
    for i in 0..PROJECTS {
        let executive = *rng.weighted(&EXECUTIVE_SHARES);
        let band = *rng.weighted(&BANDS);
        let ra = if (band == 6 || band == 7) && rng.chance(PRESSURE_PEAK_SHARE) {
            240.0 + 60.0 * rng.uniform()
        } else {
            360.0 * rng.uniform()
        };
        let dec = -70.0 + 95.0 * rng.uniform();
        let hours = (0.5 + 8.0 * -(1.0 - rng.uniform()).ln()).min(50.0);
        let array = *rng.weighted(&[("12m", 0.8), ("7m", 0.15), ("TP", 0.05)]);
        let grade = *rng.weighted(&[("A", 0.3), ("B", 0.45), ("C", 0.25)]);
        let suffix = if array == "12m" && rng.chance(0.1) {
            "L"
        } else {
            "S"
        };
        let code = format!("2025.1.{:05}.{suffix}", 10 + i * 7);
        writeln!(
            csv,
            "{code},{executive},{band},{hours:.1},{ra:.4},{dec:.4},{array},{grade}"
        )
        .expect("write to string");
        projects.push(Project {
            code,
            executive,
            band,
            array,
        });
    }
    atomic(&out.join("ops/projects.csv"), csv.as_bytes())?;

    let mut rng = DemoRng::new(spec.seed, "ops.executions");
    let (mut uid, mut project, mut start, mut end, mut band, mut config, mut status) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut t = spec.start_us() + 600_000_000;
    let mut n = 0u64;
    while t < spec.end_us() {
        let executive = *rng.weighted(&EXECUTIVE_SHARES);
        let candidates: Vec<&Project> = projects
            .iter()
            .filter(|p| p.executive == executive)
            .collect();
        let p = if candidates.is_empty() {
            &projects[rng.below(projects.len() as u64) as usize]
        } else {
            candidates[rng.below(candidates.len() as u64) as usize]
        };
        let duration = ((0.75 + 0.75 * rng.uniform()) * 3.6e9) as i64 / 1_000_000 * 1_000_000;
        let day = (t - spec.start_us()) / 86_400_000_000;
        n += 1;
        uid.push(format!("uid://A002/X{:x}/X{:x}", 0x11a2b3 + day, n));
        project.push(p.code.clone());
        start.push(t);
        end.push(t + duration);
        band.push(p.band);
        config.push(match p.array {
            "12m" if day < i64::from(spec.days()) / 2 => "C-5",
            "12m" => "C-6",
            other => other,
        });
        status.push(*rng.weighted(&[("Pass", 0.85), ("SemiPass", 0.05), ("Fail", 0.10)]));
        t += duration + ((5.0 + 15.0 * rng.uniform()) * 60.0) as i64 * 1_000_000;
    }
    let batch = RecordBatch::try_new(
        Arc::new(demo_table("ops", "executions").file_schema()),
        vec![
            arc(StringArray::from(uid)),
            arc(StringArray::from(project)),
            arc(TimestampMicrosecondArray::from(start).with_timezone("UTC")),
            arc(TimestampMicrosecondArray::from(end).with_timezone("UTC")),
            arc(Int32Array::from(band)),
            arc(StringArray::from(config)),
            arc(StringArray::from(status)),
        ],
    )
    .expect("columns match the schema");
    parquet(&out.join("ops/executions.parquet"), &batch)?;
    Ok((PROJECTS as u64, n))
}
