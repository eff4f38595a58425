//! TMCDB CLOB decoding speed (issue 11): 10 M samples written as
//! `MonitorClob` text the way ACS's Clobber does, decoded on one core.
//! Run with `cargo bench --workspace --bench clob_decode` (prints a table).
//!
//! Three figures, each the best of `RUNS`:
//! - the decoder alone (`clob::decode_clobs`) on scalar `double` blocks;
//! - the same for 4-element `double[]` sequence blocks (IF total power);
//! - `monitor_clob_samples` unnested in a SQL query on one partition: the
//!   decoder plus DataFusion's list and unnest work.
//!
//! Values are full-precision doubles (17 significant digits, the costliest
//! text to parse); times are one sample per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use almasql::connectors::tmcdb::clob::{
    DecodeOptions, PointType, Sample, SampleValue, decode_clobs, encode,
};
use almasql::connectors::tmcdb::udf::monitor_clob_samples_udf;
use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

const SAMPLES: usize = 10_000_000;
const SAMPLES_PER_BLOCK: usize = 1_000;
const RUNS: usize = 5;

/// 17-significant-digit values that do not repeat.
fn value(i: usize) -> f64 {
    (i as f64 * 0.754_877_666_246_692_7).fract() * 12.0 - 3.0
}

/// `SAMPLES` samples as CLOBs of `SAMPLES_PER_BLOCK` samples, each
/// sample `elements` values; returns the CLOBs and their total size.
fn clobs(elements: usize) -> (StringArray, usize) {
    let start_ns = 1_767_225_600_000_000_000i64; // 2026-01-01
    let per_sample = elements.max(1);
    let samples = SAMPLES / per_sample;
    let blocks: Vec<String> = (0..samples / SAMPLES_PER_BLOCK)
        .map(|b| {
            let samples: Vec<Sample> = (0..SAMPLES_PER_BLOCK)
                .map(|s| {
                    let i = b * SAMPLES_PER_BLOCK + s;
                    Sample {
                        time_ns: start_ns + i as i64 * 1_000_000_000,
                        values: (0..per_sample)
                            .map(|e| SampleValue::Double(value(i * per_sample + e)))
                            .collect(),
                    }
                })
                .collect();
            encode(&samples).expect("no NaN")
        })
        .collect();
    let bytes = blocks.iter().map(String::len).sum();
    (StringArray::from(blocks), bytes)
}

fn best_of(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut rows = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        rows = f();
        best = best.min(start.elapsed());
    }
    (best, rows)
}

fn line(what: &str, (time, rows): (Duration, usize), bytes: usize) {
    let secs = time.as_secs_f64();
    println!(
        "| {what} | {rows} | {:.3} s | {:.1} M rows/s | {:.0} MB/s |",
        secs,
        rows as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("| one core | rows | time | rows/s | CLOB text |");
    println!("|---|---|---|---|---|");

    let (scalar, scalar_bytes) = clobs(1);
    let decode = |clobs: &StringArray, point_type: PointType| {
        let (samples, report) = decode_clobs(clobs, point_type, DecodeOptions::default());
        assert_eq!(report.malformed, 0);
        samples.len()
    };
    let scalar_type = PointType::parse("double").unwrap();
    let figures = best_of(|| decode(&scalar, scalar_type));
    assert_eq!(figures.1, SAMPLES);
    line("decoder, `double` blocks", figures, scalar_bytes);

    let (sequence, sequence_bytes) = clobs(4);
    let sequence_type = PointType::parse("double[]").unwrap();
    let figures = best_of(|| decode(&sequence, sequence_type));
    assert_eq!(figures.1, SAMPLES);
    line("decoder, `double[]` blocks of 4", figures, sequence_bytes);

    // through SQL, on one partition
    let config = SessionConfig::new().with_target_partitions(1);
    let ctx = SessionContext::new_with_config(config);
    ctx.register_udf(monitor_clob_samples_udf());
    let schema = Arc::new(Schema::new(vec![Field::new("clob", DataType::Utf8, false)]));
    let batches: Vec<RecordBatch> = (0..scalar.len())
        .step_by(64)
        .map(|i| {
            let len = 64.min(scalar.len() - i);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(scalar.slice(i, len))]).unwrap()
        })
        .collect();
    let table = MemTable::try_new(schema, vec![batches]).unwrap();
    ctx.register_table("blocks", Arc::new(table)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let sql = "select count(*), sum(s['value']) from \
               (select unnest(monitor_clob_samples(clob, 'double')) as s from blocks)";
    let figures = best_of(|| {
        runtime.block_on(async {
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            let count = batches[0]
                .column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .unwrap()
                .value(0);
            count as usize
        })
    });
    assert_eq!(figures.1, SAMPLES);
    line(
        "SQL: `unnest(monitor_clob_samples(clob))`, count and sum",
        figures,
        scalar_bytes,
    );
}
