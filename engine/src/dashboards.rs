//! The ALMA dashboards: the mission's questions as SQL views in the
//! `dashboards` schema, shipped in `sql/dashboards/` and compiled into the
//! binary.
//!
//! A dashboard whose tables are not configured (e.g. no `logs.acs` in a
//! custom configuration) is skipped with a log line naming what is missing.

use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

use crate::error::Result;

/// The schema the dashboards are created in.
pub const DASHBOARD_SCHEMA: &str = "dashboards";

/// Name and query of every shipped dashboard.
pub const DASHBOARDS: [(&str, &str); 6] = [
    (
        "calibrator_days_since_last_obs",
        include_str!("../../sql/dashboards/calibrator_days_since_last_obs.sql"),
    ),
    (
        "lo2_replacement_candidates",
        include_str!("../../sql/dashboards/lo2_replacement_candidates.sql"),
    ),
    (
        "ifp_drift",
        include_str!("../../sql/dashboards/ifp_drift.sql"),
    ),
    (
        "photonic_reference_failures",
        include_str!("../../sql/dashboards/photonic_reference_failures.sql"),
    ),
    (
        "time_by_executive",
        include_str!("../../sql/dashboards/time_by_executive.sql"),
    ),
    (
        "pressure_by_band_lst",
        include_str!("../../sql/dashboards/pressure_by_band_lst.sql"),
    ),
];

/// Creates the dashboard views whose tables exist; returns the names of
/// the ones created.
pub async fn register_dashboards(ctx: &SessionContext) -> Result<Vec<&'static str>> {
    let catalog_name = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone();
    let catalog = ctx
        .catalog(&catalog_name)
        .expect("the default catalog is created with the session");
    if catalog.schema(DASHBOARD_SCHEMA).is_none() {
        catalog.register_schema(DASHBOARD_SCHEMA, Arc::new(MemorySchemaProvider::new()))?;
    }
    let mut created = vec![];
    for (name, query) in DASHBOARDS {
        let statement = format!("CREATE OR REPLACE VIEW {DASHBOARD_SCHEMA}.{name} AS\n{query}");
        let result = match ctx.sql(&statement).await {
            Ok(df) => df.collect().await.map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => created.push(name),
            Err(e) => tracing::debug!(dashboard = name, reason = %e, "dashboard not created"),
        }
    }
    Ok(created)
}
