//! The shipped example queries (sql/examples/), run over the wire, find what
//! the demo generator planted (its constants are the expected answers).

use std::collections::BTreeSet;

use almasql::engine::demo::{DOMINANT_LO2, EXECUTIVE_SHARES, PLANTED_DRIFTS, STALE_CALIBRATORS};
use tokio_postgres::Row;

use crate::common::TestServer;

async fn run_example(client: &tokio_postgres::Client, name: &str) -> Vec<Row> {
    let path = crate::common::repo_dir().join("sql/examples").join(name);
    let sql = std::fs::read_to_string(&path).unwrap();
    client
        .query(sql.as_str(), &[])
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn example_queries_find_the_planted_faults() {
    let server = TestServer::start();
    let client = server.connect().await;

    // IF drift: the four planted channels are the four steepest, with their sign.
    let rows = run_example(&client, "if_drift.sql").await;
    let top: BTreeSet<(String, i16, String)> = rows[..4]
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let planted: BTreeSet<(String, i16, String)> = PLANTED_DRIFTS
        .iter()
        .map(|d| {
            (
                d.antenna.to_string(),
                d.polarization,
                d.baseband.to_string(),
            )
        })
        .collect();
    assert_eq!(top, planted);
    for r in &rows[..4] {
        let drift = PLANTED_DRIFTS
            .iter()
            .find(|d| d.antenna == r.get::<_, &str>(0))
            .unwrap();
        assert_eq!(r.get::<_, f64>(3).signum(), drift.volts_per_day.signum());
    }
    assert!(rows[4].get::<_, f64>(3).abs() < 0.2 * rows[3].get::<_, f64>(3).abs());

    // LO2: the dominant modules lead, in order of their planted rates.
    let rows = run_example(&client, "lo2_offsets.sql").await;
    for (i, (antenna, pair, _)) in DOMINANT_LO2.iter().enumerate() {
        assert_eq!(rows[i].get::<_, &str>(0), *antenna);
        assert_eq!(rows[i].get::<_, String>(1), format!("LO2BBpr{pair}"));
    }
    assert!(rows[2].get::<_, i64>(2) > 4 * rows[3].get::<_, i64>(2));

    // Executive time: the executives rank as their planted shares (EU and NA
    // equal, then EA, CL, and OTHER, which a small dataset may not draw).
    let rows = run_example(&client, "executive_time.sql").await;
    let names: Vec<&str> = rows.iter().map(|r| r.get(0)).collect();
    let mut ranked: Vec<&str> = EXECUTIVE_SHARES.iter().map(|(e, _)| *e).collect();
    ranked.truncate(names.len());
    assert!(names.len() >= 4, "{names:?}");
    assert_eq!(
        names[..2].iter().collect::<BTreeSet<_>>(),
        ranked[..2].iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(names[2..], ranked[2..], "{names:?}");
    let total: f64 = rows.iter().map(|r| r.get::<_, f64>(2)).sum();
    assert!((total - 100.0).abs() < 0.5, "{total}");

    // Band pressure: Bands 6 and 7 peak in the LST 16–20 h bin.
    let rows = run_example(&client, "band_pressure.sql").await;
    for band in [6, 7] {
        let peak = rows
            .iter()
            .filter(|r| r.get::<_, i32>(0) == band)
            .max_by(|a, b| a.get::<_, f64>(2).total_cmp(&b.get::<_, f64>(2)))
            .unwrap();
        assert_eq!(peak.get::<_, i32>(1), 16, "band {band}");
    }

    // Stale calibrators: exactly the planted ones, stalest first.
    let rows = run_example(&client, "stale_calibrators.sql").await;
    let found: BTreeSet<(String, i32)> = rows
        .iter()
        .map(|r| (r.get(0), i32::from(r.get::<_, i16>(1))))
        .collect();
    let planted: BTreeSet<(String, i32)> = STALE_CALIBRATORS
        .iter()
        .map(|(s, b, _)| (s.to_string(), *b))
        .collect();
    assert_eq!(found, planted);
    assert_eq!(rows[0].get::<_, &str>(0), "J2258-2758");
}
