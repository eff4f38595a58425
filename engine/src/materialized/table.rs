//! The table provider of a materialized view, and the state it shares with
//! refreshes and the scheduler.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::storage::{Manifest, Storage};
use crate::mv_definition::{MvName, MvOptions};

/// Where a materialized view's definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `CREATE MATERIALIZED VIEW`, stored in the data directory.
    Sql,
    /// A `[[materialized_views]]` entry of the configuration file.
    Config,
}

/// What a reader sees: one version of the data.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub manifest: Arc<Manifest>,
    pub schema: SchemaRef,
}

/// The refresh state shown in `almasql.materialized_views`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Status {
    /// When the last successful refresh started (µs since the epoch).
    pub last_refresh_us: Option<i64>,
    /// When the scheduler will refresh next (µs since the epoch).
    pub next_refresh_us: Option<i64>,
    /// A refresh is running.
    pub refreshing: bool,
    /// The error of the last refresh, if it failed.
    pub last_error: Option<String>,
    /// Failed refreshes since the last successful one.
    pub failures: u32,
}

/// Everything about one materialized view.
#[derive(Debug)]
pub(crate) struct MvState {
    pub name: MvName,
    /// Its directory in the storage, `<schema>.<name>` encoded.
    pub key: String,
    pub query: String,
    pub options: MvOptions,
    pub origin: Origin,
    /// The `CREATE MATERIALIZED VIEW` text shown as its definition.
    pub definition: String,
    /// Held for the whole of a refresh: one refresh of a view at a time.
    pub refresh_lock: tokio::sync::Mutex<()>,
    /// The last manifest written (for version numbers and retention).
    manifest: RwLock<Option<Arc<Manifest>>>,
    /// What readers see; `None` until populated.
    snapshot: RwLock<Option<Snapshot>>,
    pub status: Mutex<Status>,
    /// The columns of the table registered in the catalog.
    table_schema: Mutex<SchemaRef>,
    pub dropped: AtomicBool,
    /// Wakes the view's scheduler task (on drop, or after a manual refresh).
    pub wake: tokio::sync::Notify,
    /// Refreshes running now, and the most seen at once (for tests).
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

impl MvState {
    pub fn new(
        name: MvName,
        key: String,
        query: String,
        options: MvOptions,
        origin: Origin,
    ) -> Self {
        let definition = format!(
            "CREATE MATERIALIZED VIEW {name}{} AS {query}",
            options.to_sql()
        );
        Self {
            name,
            key,
            query,
            options,
            origin,
            definition,
            refresh_lock: tokio::sync::Mutex::new(()),
            manifest: RwLock::new(None),
            snapshot: RwLock::new(None),
            status: Mutex::new(Status::default()),
            table_schema: Mutex::new(Arc::new(Schema::empty())),
            dropped: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    pub fn manifest(&self) -> Option<Arc<Manifest>> {
        self.manifest.read().expect("not poisoned").clone()
    }

    pub fn snapshot(&self) -> Option<Snapshot> {
        self.snapshot.read().expect("not poisoned").clone()
    }

    /// Installs a new version: the manifest, and what readers see.
    pub fn set_current(&self, manifest: Option<Arc<Manifest>>, snapshot: Option<Snapshot>) {
        *self.manifest.write().expect("not poisoned") = manifest;
        *self.snapshot.write().expect("not poisoned") = snapshot;
    }

    pub fn table_schema(&self) -> SchemaRef {
        self.table_schema.lock().expect("not poisoned").clone()
    }

    pub fn status(&self) -> Status {
        self.status.lock().expect("not poisoned").clone()
    }

    pub fn update_status(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().expect("not poisoned"));
    }

    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// A materialized view in the catalog: scans read the version current when
/// the scan is planned.
#[derive(Debug)]
pub struct MvTable {
    state: Arc<MvState>,
    storage: Arc<Storage>,
    /// The schema of the version current when the table was registered
    /// (empty before the view is populated).
    schema: SchemaRef,
}

impl MvTable {
    /// A table with the columns `schema`: the stored rows', or before the
    /// view is populated its query's (empty if it does not plan).
    pub(crate) fn new(state: Arc<MvState>, storage: Arc<Storage>, schema: SchemaRef) -> Self {
        *state.table_schema.lock().expect("not poisoned") = schema.clone();
        Self {
            state,
            storage,
            schema,
        }
    }

    /// The view's name, `schema.name`.
    pub fn name(&self) -> String {
        self.state.name.to_string()
    }

    pub(crate) fn state(&self) -> &Arc<MvState> {
        &self.state
    }

    /// A table over one version's files.
    pub(crate) fn snapshot_table(
        storage: &Storage,
        key: &str,
        snapshot: &Snapshot,
    ) -> DfResult<Arc<dyn TableProvider>> {
        if snapshot.manifest.files.is_empty() {
            return Ok(Arc::new(datafusion::datasource::empty::EmptyTable::new(
                snapshot.schema.clone(),
            )));
        }
        let urls = snapshot
            .manifest
            .files
            .iter()
            .map(|f| storage.file_url(key, &f.path))
            .collect::<DfResult<Vec<_>>>()?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(snapshot.schema.clone());
        Ok(Arc::new(ListingTable::try_new(config)?))
    }

    fn unavailable(&self) -> DataFusionError {
        let status = self.state.status();
        let name = &self.state.name;
        match status.last_error {
            Some(error) => DataFusionError::Execution(format!(
                "materialized view {name} has not been populated: its refresh failed: {error}"
            )),
            None => DataFusionError::Execution(format!(
                "materialized view {name} has not been populated yet; run REFRESH MATERIALIZED VIEW {name}"
            )),
        }
    }
}

#[async_trait]
impl TableProvider for MvTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.state.definition)
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // The Parquet scan prunes with them; the filter stays above it.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let Some(snapshot) = self.state.snapshot() else {
            return Err(self.unavailable());
        };
        if !same_columns(&snapshot.schema, &self.schema) {
            return Err(DataFusionError::Execution(format!(
                "materialized view {} changed its columns while the query was planned; run the query again",
                self.state.name
            )));
        }
        Self::snapshot_table(&self.storage, &self.state.key, &snapshot)?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// Whether two schemas have the same column names and types, in order.
pub(crate) fn same_columns(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type())
}
