//! almasql in-process: the benchmark queries through the embedding API, no
//! wire protocol. The in-process column of `benches/compare/compare.py`.
//!
//! ```text
//! inprocess [--config almasql.toml] [--data-dir D] --queries queries.json --repeat N [--warmup W]
//! ```
//!
//! Opens the demo dataset already in `D/demo`: with `--config`, the config
//! file the harness gives `almasql serve` (`data_dir`, `[demo] scale/seed`;
//! `--data-dir` overrides `data_dir`, as in the CLI); else `--data-dir` at
//! its manifest's scale and seed. A dataset that does not match is an error,
//! never regenerated. Each query runs `W` times untimed, then `N` times timed
//! (plan + execute + collect); stdout gets `{"name": [seconds, ...]}`.
//! Built by `compare.py --build-inprocess` (`cargo bench --bench inprocess
//! --no-run`); without `--queries` (plain `cargo bench`) it prints usage.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use almasql::Engine;
use almasql::engine::Config;
use almasql::engine::config::DemoConfig;
use almasql::engine::demo::{self, GENERATOR_VERSION};
use anyhow::{Context, Result, bail, ensure};
use clap::Parser;

/// The allocator of the `almasql` binary, so both columns run on the same.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Times the benchmark queries in-process.
#[derive(Parser)]
#[command(name = "inprocess")]
struct Args {
    /// The almasql configuration file (preferred over --data-dir).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory holding the demo dataset in `demo/` (without --config).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// JSON object: query name -> almasql SQL.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Timed runs per query.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Untimed runs per query before the timed ones.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The configuration to open: the file, else the data directory at its
/// dataset's scale and seed; checked so that building never regenerates.
fn load_config(args: &Args) -> Result<Config> {
    let config = match (&args.config, &args.data_dir) {
        (Some(path), data_dir) => {
            let mut config = Config::from_file(path)
                .with_context(|| format!("reading the configuration {}", path.display()))?;
            if let Some(dir) = data_dir {
                config.data_dir = dir.clone();
            }
            config
        }
        (None, Some(dir)) => {
            let manifest = demo::read_manifest(&demo::dataset_dir(dir)).with_context(|| {
                format!(
                    "no demo dataset (manifest.json) in {}",
                    demo::dataset_dir(dir).display()
                )
            })?;
            Config {
                data_dir: dir.clone(),
                demo: Some(DemoConfig {
                    scale: manifest.scale,
                    seed: manifest.seed,
                }),
                ..Config::default()
            }
        }
        (None, None) => bail!("give --config or --data-dir"),
    };
    if let Some(want) = &config.demo {
        let dir = demo::dataset_dir(&config.data_dir);
        let have = demo::read_manifest(&dir)
            .with_context(|| format!("no demo dataset (manifest.json) in {}", dir.display()))?;
        ensure!(
            have.generator_version == GENERATOR_VERSION
                && have.scale == want.scale
                && have.seed == want.seed,
            "the dataset in {} (generator {}, scale {}, seed {}) is not the configured one \
             (generator {}, scale {}, seed {}); refusing to regenerate it",
            dir.display(),
            have.generator_version,
            have.scale,
            have.seed,
            GENERATOR_VERSION,
            want.scale,
            want.seed
        );
    }
    Ok(config)
}

/// Plans, runs and collects `sql` once; returns the seconds and the rows.
async fn run_once(engine: &Engine, sql: &str) -> Result<(f64, usize)> {
    let start = Instant::now();
    let batches = engine.sql(sql).await?.collect().await?;
    let seconds = start.elapsed().as_secs_f64();
    Ok((seconds, batches.iter().map(|b| b.num_rows()).sum()))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let Some(path) = &args.queries else {
        eprintln!(
            "usage: inprocess [--config C] [--data-dir D] --queries Q.json --repeat N [--warmup W]\n\
             (run by benches/compare/compare.py; nothing to do without --queries)"
        );
        return Ok(());
    };
    ensure!(args.repeat > 0, "--repeat must be at least 1");
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let queries: BTreeMap<String, String> = serde_json::from_str(&text)
        .with_context(|| format!("{}: expected {{\"name\": \"sql\", ...}}", path.display()))?;
    let config = load_config(&args)?;

    let start = Instant::now();
    let engine = Engine::builder()
        .config(config)
        .scheduler(false)
        .build()
        .await?;
    eprintln!("engine built in {:.2} s", start.elapsed().as_secs_f64());

    let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (name, sql) in &queries {
        for _ in 0..args.warmup {
            run_once(&engine, sql)
                .await
                .with_context(|| format!("query {name}"))?;
        }
        let mut rows = 0;
        let mut samples = Vec::with_capacity(args.repeat);
        for _ in 0..args.repeat {
            let (seconds, n) = run_once(&engine, sql)
                .await
                .with_context(|| format!("query {name}"))?;
            samples.push(seconds);
            rows = n;
        }
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        eprintln!(
            "{name}: {rows} rows, median {:.1} ms",
            sorted[sorted.len() / 2] * 1000.0
        );
        times.insert(name.clone(), samples);
    }
    println!("{}", serde_json::to_string(&times)?);
    Ok(())
}
