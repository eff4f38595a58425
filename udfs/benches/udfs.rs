//! Throughput of the almasql functions through SQL on 10 M rows, per family,
//! and `drift_slope` against DataFusion's `regr_slope` in a GROUP BY with
//! 10 k groups.
//!
//! Run: `cargo bench -p almasql-udfs --bench udfs`
//! (`ALMASQL_BENCH_ROWS=1000000` for a quicker run).

use std::hint::black_box;
use std::sync::Arc;

use almasql_udfs::register_all;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use tokio::runtime::Runtime;

const BATCH: usize = 8192;
const GROUPS: i64 = 10_000;

fn rows() -> usize {
    std::env::var("ALMASQL_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000)
}

/// Deterministic pseudo-random numbers in [0, 1) (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A table of `n` rows: group, time, value, ra, dec, freq, name, events.
fn context(n: usize) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("v", DataType::Float64, false),
        Field::new("ra", DataType::Float64, false),
        Field::new("dec", DataType::Float64, false),
        Field::new("freq", DataType::Float64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("k", DataType::Int64, false),
    ]));
    let mut rng = Lcg(42);
    let names = [
        "J0006-0623",
        "J0237+2848",
        "J1924-2914",
        "J123456.7+123456",
        "3C279",
    ];
    let t0 = 1_704_067_200_000_000_i64;
    let mut partitions = vec![Vec::new(), Vec::new()];
    let mut start = 0;
    while start < n {
        let len = BATCH.min(n - start);
        let idx = start as i64..(start + len) as i64;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(
                idx.clone().map(|i| i % GROUPS),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    idx.clone().map(|i| t0 + i * 1_000_000),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Float64Array::from_iter_values(
                (0..len).map(|_| rng.next() * 10.0),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..len).map(|_| rng.next() * 360.0),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..len).map(|_| rng.next() * 180.0 - 90.0),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..len).map(|_| 30.0 + rng.next() * 930.0),
            )),
            Arc::new(StringArray::from_iter_values(
                idx.clone().map(|i| names[i as usize % 5]),
            )),
            Arc::new(Int64Array::from_iter_values(idx.map(|i| i % 20))),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
        partitions[(start / BATCH) % 2].push(batch);
        start += len;
    }
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    register_all(&ctx).unwrap();
    ctx.register_table(
        "t",
        Arc::new(MemTable::try_new(schema, partitions).unwrap()),
    )
    .unwrap();
    ctx
}

fn run(rt: &Runtime, ctx: &SessionContext, sql: &str) {
    let batches = rt.block_on(async { ctx.sql(sql).await.unwrap().collect().await.unwrap() });
    black_box(batches);
}

fn bench(c: &mut Criterion) {
    let n = rows();
    let rt = Runtime::new().unwrap();
    let ctx = context(n);
    let queries = [
        ("time/mjd", "SELECT max(mjd(ts)) FROM t"),
        (
            "time/timestamp_to_acs",
            "SELECT max(timestamp_to_acs(ts)) FROM t",
        ),
        ("sky/lst", "SELECT max(lst(ts)) FROM t"),
        (
            "sky/hour_angle_apparent",
            "SELECT max(hour_angle(ts, ra, dec)) FROM t",
        ),
        ("sky/elevation", "SELECT max(elevation(ts, ra, dec)) FROM t"),
        ("sky/alma_band", "SELECT max(alma_band(freq)) FROM t"),
        ("sky/jname_ra", "SELECT max(jname_ra(name)) FROM t"),
        (
            "sky/lst_overlap_hours",
            "SELECT max(lst_overlap_hours(ra / 15, dec / 7.5 + 12, 2, 8)) FROM t",
        ),
        ("fault/mad_1_group", "SELECT mad(v) FROM t"),
        (
            "fault/ewma_10k_partitions",
            "SELECT max(s) FROM (SELECT ewma(v, 0.1) OVER (PARTITION BY g ORDER BY ts) AS s FROM t)",
        ),
        (
            "rates/poisson_rate_ci",
            "SELECT max(poisson_rate_ci(k, 1.5)['upper']) FROM t",
        ),
        ("baseline/max_v", "SELECT max(v) FROM t"),
    ];
    let mut group = c.benchmark_group("families_10M");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    for (name, sql) in queries {
        group.bench_function(name, |b| b.iter(|| run(&rt, &ctx, sql)));
    }
    group.finish();

    let mut group = c.benchmark_group("groupby_10k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("drift_slope", |b| {
        b.iter(|| run(&rt, &ctx, "SELECT g, drift_slope(v, ts) FROM t GROUP BY g"))
    });
    group.bench_function("regr_slope_epoch_days", |b| {
        b.iter(|| {
            run(
                &rt,
                &ctx,
                "SELECT g, regr_slope(v, CAST(to_unixtime(ts) AS DOUBLE) / 86400) FROM t GROUP BY g",
            )
        })
    });
    group.bench_function("regr_slope_plain_double", |b| {
        b.iter(|| run(&rt, &ctx, "SELECT g, regr_slope(v, ra) FROM t GROUP BY g"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
