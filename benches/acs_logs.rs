//! Scan speed of `logs.acs` through the whole engine: MB/s per core of
//! uncompressed ACS XML for a full `GROUP BY level` and for a selective
//! time range. Run with `cargo bench --bench acs_logs` (prints a table).
//!
//! The input is synthetic but shaped like real logs (CDATA messages, Data
//! children, every attribute), `FILES` hourly files written to a temporary
//! directory once per run.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use almasql::Engine;
use almasql::connectors::acs::AcsLogOptions;
use almasql::engine::Config;
use almasql::engine::config::SourceConfig;
use datafusion::arrow::util::pretty::pretty_format_batches;

const FILES: usize = 24;
const RECORDS_PER_FILE: usize = 60_000;
const RUNS: usize = 5;

fn write_files(dir: &std::path::Path) -> u64 {
    let levels = [
        "Trace", "Debug", "Info", "Info", "Notice", "Warning", "Error",
    ];
    let mut total = 0;
    for hour in 0..FILES {
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Log>\n<Header Name=\"NameForXmlDocument\" Type=\"LOGFILE\" />\n",
        );
        for i in 0..RECORDS_PER_FILE {
            let level = levels[i % levels.len()];
            let ms = i * 3_600_000 / RECORDS_PER_FILE;
            let (m, s, frac) = (ms / 60_000, ms / 1000 % 60, ms % 1000);
            writeln!(
                xml,
                "<{level} TimeStamp=\"2026-01-01T{hour:02}:{m:02}:{s:02}.{frac:03}\" File=\"IFProcImpl.cpp\" Line=\"{}\" Routine=\"IFProcImpl::updateThreadAction\" Host=\"gas0{}\" Process=\"CONTROL/ACC/cppContainer\" SourceObject=\"CONTROL/DV{:02}/IFProc0\" Thread=\"IFProcMonitor\" Context=\"\" LogId=\"{i}\" Priority=\"4\" Audience=\"Developer\" Array=\"Array001\" Antenna=\"DV{:02}\"><![CDATA[Total power detector readings within limits, gain set to {} dB]]><Data Name=\"Gain\">{}</Data></{level}>",
                100 + i % 900,
                1 + i % 3,
                1 + i % 25,
                1 + i % 25,
                i % 16,
                i % 16,
            )
            .unwrap();
        }
        xml.push_str("</Log>\n");
        total += xml.len() as u64;
        std::fs::write(dir.join(format!("gas-2026-01-01T{hour:02}.xml")), xml).unwrap();
    }
    total
}

async fn time_query(engine: &Engine, sql: &str) -> (Duration, String) {
    let mut best = Duration::MAX;
    let mut shown = String::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let batches = engine.sql(sql).await.unwrap().collect().await.unwrap();
        best = best.min(start.elapsed());
        shown = pretty_format_batches(&batches).unwrap().to_string();
    }
    (best, shown)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let bytes = write_files(&logs);
    let config = Config {
        demo: None,
        data_dir: dir.path().join("data"),
        sources: vec![SourceConfig::AcsLogs(AcsLogOptions::new(
            "logs.acs",
            logs.to_string_lossy(),
        ))],
        ..Config::default()
    };
    let engine = Engine::builder().config(config).build().await.unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mb = bytes as f64 / 1e6;
    println!("{FILES} files, {mb:.0} MB of ACS XML, {cores} cores, best of {RUNS} runs\n");
    println!("| query | time | MB/s | MB/s per core |\n|---|---|---|---|");
    for (name, sql) in [
        (
            "full scan: level counts",
            "select level, count(*) from logs.acs group by level order by level",
        ),
        (
            "selective: one hour, one antenna",
            "select count(*) from logs.acs where time >= timestamptz '2026-01-01 05:00:00+00' \
             and time < timestamptz '2026-01-01 06:00:00+00' and antenna = 'DV07'",
        ),
    ] {
        let (t, shown) = time_query(&engine, sql).await;
        let rate = mb / t.as_secs_f64();
        println!(
            "| {name} | {:.3} s | {rate:.0} | {:.0} |",
            t.as_secs_f64(),
            rate / cores as f64
        );
        eprintln!("{shown}");
    }
}
