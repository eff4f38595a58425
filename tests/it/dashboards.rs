//! The shipped dashboards (sql/dashboards/, the `dashboards` schema) find
//! what the demo generator planted; expectations come from its constants.

use std::collections::BTreeSet;

use almasql::engine::demo::{
    DOMINANT_LO2, EXECUTIVE_SHARES, FRESH_WITHIN_DAYS, LOCK_LOSS, PLANTED_DRIFTS, STALE_CALIBRATORS,
};

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_find_what_was_planted() {
    let server = TestServer::start();
    let client = server.connect().await;

    // Calibrators: the stale ones lead, with their planted gaps.
    let rows = client
        .query(
            "select source, days_since_band3, days_since_band7, urgency_days \
             from dashboards.calibrator_days_since_last_obs order by urgency_days desc, source",
            &[],
        )
        .await
        .unwrap();
    let stale: BTreeSet<&str> = STALE_CALIBRATORS.iter().map(|(s, _, _)| *s).collect();
    let leading: BTreeSet<&str> = rows[..stale.len()].iter().map(|r| r.get(0)).collect();
    assert_eq!(leading, stale);
    for (source, band, days) in STALE_CALIBRATORS {
        let row = rows.iter().find(|r| r.get::<_, &str>(0) == source).unwrap();
        let got: f64 = row.get(if band == 3 { 1 } else { 2 });
        assert!(
            (got - days as f64).abs() <= 1.5,
            "{source} band {band}: {got} vs {days}"
        );
    }
    let next: f64 = rows[stale.len()].get(3);
    assert!(next <= FRESH_WITHIN_DAYS as f64 + 0.5, "{next}");

    // LO2: the dominant modules are the first priorities, in order.
    let rows = client
        .query(
            "select priority, antenna, baseband_pair, replace_now from dashboards.lo2_replacement_candidates \
             order by priority, antenna, baseband_pair",
            &[],
        )
        .await
        .unwrap();
    for (i, (antenna, pair, _)) in DOMINANT_LO2.iter().enumerate() {
        assert_eq!(rows[i].get::<_, i32>(0), i as i32 + 1);
        assert_eq!(rows[i].get::<_, &str>(1), *antenna);
        assert_eq!(rows[i].get::<_, i16>(2), *pair);
    }
    assert_eq!(rows.iter().filter(|r| r.get::<_, bool>(3)).count(), 5);

    // IF drift: the planted channels have the largest |z|, each began after
    // its planted start, and the antennas with open tickets say so.
    let rows = client
        .query(
            "select antenna, polarization, baseband, zscore, drift_began, open_ticket \
             from dashboards.ifp_drift order by abs(zscore) desc",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 66 * 2 * 4);
    let top: BTreeSet<(String, i16, String)> = rows[..PLANTED_DRIFTS.len()]
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
    let span_days = 4.0;
    for d in PLANTED_DRIFTS {
        let row = rows
            .iter()
            .find(|r| r.get::<_, &str>(0) == d.antenna)
            .unwrap();
        let began: chrono::DateTime<chrono::Utc> = row.get(4);
        let start = almasql::engine::demo::start()
            + chrono::Duration::seconds((d.begins_at * span_days * 86400.0) as i64);
        assert!(began >= start, "{}: {began} before {start}", d.antenna);
        assert!(row.get::<_, f64>(3).abs() > 5.0, "{}", d.antenna);
    }
    for antenna in ["DV07", "DA44"] {
        let row = rows
            .iter()
            .find(|r| r.get::<_, &str>(0) == antenna)
            .unwrap();
        assert!(row.get::<_, bool>(5), "{antenna} has an open ticket");
    }

    // Photonic reference: the planted antennas fail most, and the cold does.
    let rows = client
        .query(
            "select level, failures, rate_per_1000h, lower_per_1000h, upper_per_1000h \
             from dashboards.photonic_reference_failures where factor = 'antenna' \
             order by rate_per_1000h desc",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 66);
    let worst: BTreeSet<&str> = rows[..LOCK_LOSS.len()].iter().map(|r| r.get(0)).collect();
    let planted: BTreeSet<&str> = LOCK_LOSS.iter().map(|(a, _)| *a).collect();
    assert_eq!(worst, planted);
    for r in &rows {
        let (lo, rate, hi): (f64, f64, f64) = (r.get(3), r.get(2), r.get(4));
        assert!(lo <= rate && rate <= hi);
    }
    let ratio: f64 = client
        .query_one(
            "select (sum(case when level like '-%' and cast(split_part(level, ' ', 1) as int) < -5 then failures end) \
                     / sum(case when level like '-%' and cast(split_part(level, ' ', 1) as int) < -5 then exposure_hours end)) \
                  / (sum(case when not (level like '-%' and cast(split_part(level, ' ', 1) as int) < -5) then failures end) \
                     / sum(case when not (level like '-%' and cast(split_part(level, ' ', 1) as int) < -5) then exposure_hours end)) \
             from dashboards.photonic_reference_failures where factor = 'ambient_temperature'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ratio > 2.0, "cold/warm failure-rate ratio {ratio}");

    // Executives: shares per month add up to 100 and EU and NA lead overall.
    let rows = client
        .query(
            "select executive, sum(hours) as h from dashboards.time_by_executive group by 1 order by h desc",
            &[],
        )
        .await
        .unwrap();
    let top2: BTreeSet<&str> = rows[..2].iter().map(|r| r.get(0)).collect();
    let planted2: BTreeSet<&str> = EXECUTIVE_SHARES[..2].iter().map(|(e, _)| *e).collect();
    assert_eq!(top2, planted2);
    let bad_months: i64 = client
        .query_one(
            "select count(*) from (select month, sum(share_percent) as s from dashboards.time_by_executive \
             group by month) where abs(s - 100) > 0.5",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(bad_months, 0);

    // Pressure: Bands 6 and 7 of the 12 m array peak at LST 14-20 h.
    for band in [6, 7] {
        let row = client
            .query_one(
                "select lst_start, pressure from dashboards.pressure_by_band_lst \
                 where array = '12m' and band = $1 order by pressure desc limit 1",
                &[&band],
            )
            .await
            .unwrap();
        let start: f64 = row.get(0);
        assert!(
            (14.0..20.0).contains(&start),
            "band {band} peaks at {start}"
        );
    }
}
