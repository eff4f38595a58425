//! Refreshing a materialized view: running its query into a new version
//! of its data, then switching readers to it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Column;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions_aggregate::expr_fn::max;
use datafusion::logical_expr::{Expr, lit};
use datafusion::parquet::file::properties::WriterPropertiesBuilder;
use datafusion::scalar::ScalarValue;

use super::scheduler::now_us;
use super::storage::Manifest;
use super::table::{MvState, Snapshot, same_columns};
use super::{MaterializedViews, RefreshReport, error};
use super::{MvTable, RefreshRecord};
use crate::error::Result;
use crate::mv_definition::RefreshMode;

impl MaterializedViews {
    /// Refreshes one view, holding its refresh lock, and records the
    /// outcome in its status and the history.
    pub(crate) async fn refresh_state(&self, state: &Arc<MvState>) -> Result<RefreshReport> {
        let _lock = state.refresh_lock.lock().await;
        if state.is_dropped() {
            return Err(error(&state.name, "was dropped"));
        }
        let _running = Running::new(state);
        let started = now_us();
        let result = self.write_version(state, started).await;
        let finished = now_us();
        let record = match &result {
            Ok(report) => RefreshRecord {
                view: state.name.to_string(),
                started_at_us: started,
                finished_at_us: finished,
                status: "ok".to_string(),
                rows: Some(report.rows),
                bytes: Some(report.bytes),
                error: None,
            },
            Err(e) => RefreshRecord {
                view: state.name.to_string(),
                started_at_us: started,
                finished_at_us: finished,
                status: "failed".to_string(),
                rows: None,
                bytes: None,
                error: Some(e.to_string()),
            },
        };
        state.update_status(|s| match &result {
            Ok(_) => {
                s.last_refresh_us = Some(started);
                s.last_error = None;
                s.failures = 0;
            }
            Err(e) => {
                s.last_error = Some(e.to_string());
                s.failures += 1;
            }
        });
        if let Err(e) = &result {
            tracing::warn!(view = %state.name, error = %e, "refresh failed; the previous data stays readable");
        } else {
            tracing::info!(view = %state.name, rows = record.rows, "refreshed");
        }
        self.inner.history.append(record);
        state.wake.notify_one();
        result
    }

    /// Computes and writes a new version, then switches to it.
    async fn write_version(&self, state: &Arc<MvState>, started: i64) -> Result<RefreshReport> {
        let name = &state.name;
        let fail = |e: DataFusionError| error(name, e);
        let ctx = &self.inner.ctx;
        let storage = &self.inner.storage;
        let previous = state.manifest();
        let snapshot = state.snapshot();
        let version = previous.as_ref().map_or(1, |m| m.version + 1);

        let plan = ctx
            .state()
            .create_logical_plan(&state.query)
            .await
            .map_err(fail)?;
        let mut df = DataFrame::new(ctx.state(), plan);
        let mut files = vec![];
        let mut target: Option<SchemaRef> = None;
        if let (Some(column), Some(snapshot)) = (&state.options.time_column, &snapshot)
            && state.options.mode == RefreshMode::Append
        {
            let stored = ctx
                .read_table(MvTable::snapshot_table(storage, &state.key, snapshot).map_err(fail)?)
                .map_err(fail)?;
            let column = Expr::Column(Column::new_unqualified(column));
            let batches = stored
                .clone()
                .aggregate(vec![], vec![max(column.clone())])
                .map_err(fail)?
                .collect()
                .await
                .map_err(fail)?;
            let stored_max = ScalarValue::try_from_array(batches[0].column(0), 0).map_err(fail)?;
            if !stored_max.is_null() {
                let lower = match &state.options.overlap {
                    Some(overlap) => lit(stored_max) - lit(interval(overlap.duration())),
                    None => lit(stored_max),
                };
                df = df.filter(column.clone().gt(lower.clone())).map_err(fail)?;
                if state.options.overlap.is_some() {
                    // Rows of the window that are already stored are not
                    // added again (EXCEPT ALL: an anti-join on all columns).
                    df = df
                        .except(stored.filter(column.gt(lower)).map_err(fail)?)
                        .map_err(fail)?;
                }
            }
            files = snapshot.manifest.files.clone();
            target = Some(snapshot.schema.clone());
        }
        let appending = target.is_some();
        let stream = df.execute_stream().await.map_err(fail)?;
        let schema = match target {
            Some(target) => {
                check_compatible(&stream.schema(), &target).map_err(|m| error(name, m))?;
                target
            }
            None => stream.schema(),
        };
        let mut parquet_options = ctx.state().table_options().parquet.clone();
        parquet_options.arrow_schema(&schema);
        let properties = WriterPropertiesBuilder::try_from(&parquet_options)
            .map_err(fail)?
            .build();
        let version_dir = format!("v{version}");
        let relative = format!("{version_dir}/part-0.parquet");
        let written = match storage
            .write_parquet(
                &state.key,
                &relative,
                stream,
                schema.clone(),
                properties,
                appending,
            )
            .await
        {
            Ok(written) => written,
            Err(e) => {
                let _ = storage.delete_prefix(&state.key, &version_dir).await;
                return Err(fail(e));
            }
        };
        let (rows, bytes) = written.as_ref().map_or((0, 0), |f| (f.rows, f.size));
        files.extend(written);

        self.pause_hook().await;

        let kept: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let previous_files = previous
            .as_ref()
            .map(|m| {
                m.files
                    .iter()
                    .filter(|f| !kept.contains(f.path.as_str()))
                    .map(|f| f.path.clone())
                    .collect()
            })
            .unwrap_or_default();
        let manifest = Manifest {
            format: 1,
            version,
            query: state.query.clone(),
            mode: state.options.mode,
            refreshed_at_us: started,
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.size).sum(),
            files,
            previous_files,
        };
        if let Err(e) = storage.write_manifest(&state.key, &manifest).await {
            let _ = storage.delete_prefix(&state.key, &version_dir).await;
            return Err(fail(e));
        }
        let manifest = Arc::new(manifest);
        let total_rows = manifest.rows;
        let changed_columns = !same_columns(&state.table_schema(), &schema);
        let columns = schema.clone();
        state.set_current(
            Some(manifest.clone()),
            Some(Snapshot {
                manifest: manifest.clone(),
                schema,
            }),
        );
        if changed_columns {
            self.install_table(state, columns).await?;
        }
        if let Err(e) = storage.cleanup(&state.key, Some(&manifest)).await {
            tracing::warn!(view = %name, error = %e, "cannot remove old versions; retried at the next refresh");
        }
        Ok(RefreshReport {
            rows,
            bytes,
            total_rows,
        })
    }

    async fn pause_hook(&self) {
        let path = self.inner.pause_file.lock().expect("not poisoned").clone();
        let Some(path) = path else {
            return;
        };
        let mut reached = path.clone().into_os_string();
        reached.push(".reached");
        if let Err(e) = std::fs::write(&reached, b"") {
            tracing::warn!(error = %e, "test hook: cannot create the .reached file");
        }
        while !path.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[cfg(test)]
    pub(crate) fn set_pause_file(&self, path: Option<std::path::PathBuf>) {
        *self.inner.pause_file.lock().expect("not poisoned") = path;
    }

    #[cfg(test)]
    pub(crate) fn max_concurrent_refreshes(&self, name: &super::MvName) -> usize {
        self.get(name)
            .map_or(0, |s| s.max_in_flight.load(Ordering::SeqCst))
    }
}

/// Marks a refresh as running for as long as it lives (also when the
/// refresh is abandoned at shutdown).
struct Running<'a>(&'a MvState);

impl<'a> Running<'a> {
    fn new(state: &'a MvState) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        state.update_status(|s| s.refreshing = true);
        Self(state)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.update_status(|s| s.refreshing = false);
    }
}

fn interval(duration: Duration) -> ScalarValue {
    ScalarValue::IntervalMonthDayNano(Some(
        datafusion::arrow::datatypes::IntervalMonthDayNano::new(
            0,
            0,
            duration.as_nanos().min(i64::MAX as u128) as i64,
        ),
    ))
}

/// Rows of an append refresh must have the stored columns.
fn check_compatible(actual: &SchemaRef, stored: &SchemaRef) -> std::result::Result<(), String> {
    if same_columns(actual, stored) {
        return Ok(());
    }
    let describe = |s: &SchemaRef| {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "the query now returns ({}) but the stored rows have ({}); drop and create the view again",
        describe(actual),
        describe(stored)
    ))
}
