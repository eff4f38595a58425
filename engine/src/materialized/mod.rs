//! Materialized views: the result of a query stored as Parquet through
//! `object_store`, refreshed on demand or on a schedule, read like a table.
//!
//! * Statements: `CREATE MATERIALIZED VIEW`, `REFRESH MATERIALIZED VIEW`,
//!   `DROP MATERIALIZED VIEW`, recognized by [`parse_statement`] and run by
//!   [`MaterializedViews::execute`]. Views can also be declared in the
//!   configuration file (`[[materialized_views]]`); those are dropped by
//!   removing them there.
//! * Storage: `<data_dir>/materialized/<schema>.<name>/`, a manifest naming
//!   the current version's files (see the `storage` module). A refresh writes a
//!   new version beside the current one and switches the manifest in one
//!   step; readers keep the version they planned against; a crash at any
//!   point leaves the previous version readable, and the next start removes
//!   the leftovers. SQL-created definitions are kept in
//!   `<data_dir>/catalog/materialized/<schema>.<name>.json`.
//! * Modes: `full` recomputes the query; `append` adds the rows whose
//!   `time_column` is newer than the stored maximum, reading an optional
//!   `overlap` window again for late rows without adding rows already
//!   stored.
//! * Scheduling: [`MaterializedViews::start_scheduler`] (see
//!   [`SchedulerHandle`]).
//! * System tables: `almasql.materialized_views` and
//!   `almasql.refresh_history` (the history is also kept in
//!   `<data_dir>/catalog/refresh_history.jsonl`).
//!
//! Test hook: when the environment variable `ALMASQL_REFRESH_PAUSE_FILE` is
//! set to a path when the views are opened, every refresh that has written
//! its new version but not yet switched the manifest creates
//! `<path>.reached` and waits until `<path>` exists (polling every 50 ms).
//! Crash tests use it to kill the server at that moment.

mod parse;
mod refresh;
mod scheduler;
mod storage;
mod system;
mod table;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::CatalogProvider;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::mv_definition::{
    DEFAULT_SCHEMA, MvName, MvOptions, RefreshMode, TimeSpan, quote_ident,
};
pub use parse::{MvStatement, parse_statement, split_statements};
pub use scheduler::SchedulerHandle;
pub use system::{RefreshRecord, SYSTEM_SCHEMA};
pub use table::MvTable;

use crate::catalog_files::{object_key, parse_object_key, schema_in, write_atomically};
use crate::config::MaterializedViewConfig;
use crate::error::{EngineError, Result};
use storage::{Manifest, Storage};
use system::{History, SystemTable, Views};
use table::{MvState, Origin, Snapshot};

/// Where the views' data lives, relative to the data directory.
pub const DATA_DIR: &str = "materialized";
/// Where SQL-created definitions are kept, relative to the data directory.
pub const DEFINITIONS_DIR: &str = "catalog/materialized";
/// The refresh history file, relative to the data directory.
pub const HISTORY_FILE: &str = "catalog/refresh_history.jsonl";
/// Test hook: see the module documentation.
pub const PAUSE_FILE_ENV: &str = "ALMASQL_REFRESH_PAUSE_FILE";

/// The materialized views of a session; cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct MaterializedViews {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    ctx: SessionContext,
    /// Where the views and system tables are registered.
    catalog: Arc<dyn CatalogProvider>,
    views: Arc<Views>,
    history: Arc<History>,
    storage: Arc<Storage>,
    definitions_dir: PathBuf,
    /// Serializes CREATE and DROP.
    ddl: tokio::sync::Mutex<()>,
    /// Cancelled when the views are dropped; parent of the scheduler's.
    root: CancellationToken,
    /// The running scheduler's token, for views created later.
    scheduler: Mutex<Option<CancellationToken>>,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
    pause_file: Mutex<Option<PathBuf>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaterializedViews")
            .field("storage", &self.storage)
            .field("views", &self.views)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.root.cancel();
    }
}

/// What [`MaterializedViews::execute`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MvOutcome {
    /// The PostgreSQL command tag, e.g. `REFRESH MATERIALIZED VIEW`.
    pub tag: &'static str,
    /// Rows written by the refresh the statement ran, if it ran one.
    pub rows: Option<u64>,
}

/// What one refresh wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshReport {
    /// Rows written (all rows in full mode, the new ones in append mode).
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Rows in the view after the refresh.
    pub total_rows: u64,
}

/// A SQL-created definition as stored in the data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredDefinition {
    schema: String,
    name: String,
    query: String,
    #[serde(default)]
    options: MvOptions,
}

fn error(name: &MvName, message: impl std::fmt::Display) -> EngineError {
    EngineError::MaterializedView {
        name: name.to_string(),
        message: message.to_string(),
    }
}

impl MaterializedViews {
    /// Opens the materialized views of `data_dir` and `configs` (the
    /// `[[materialized_views]]` of the configuration) in `ctx`: registers
    /// each view and the system tables, removes the leftovers of
    /// interrupted refreshes and the data of views that no longer exist.
    /// Refreshing on a schedule starts with [`Self::start_scheduler`].
    /// Views and system tables are registered in the schemas of `catalog`,
    /// the session's default catalog without the wrapper that persists
    /// plain views ([`crate::views::PersistentCatalog::plain`]).
    pub async fn open(
        ctx: &SessionContext,
        catalog: Arc<dyn CatalogProvider>,
        data_dir: &Path,
        configs: &[MaterializedViewConfig],
    ) -> Result<Self> {
        let storage = Arc::new(Storage::local(ctx, &data_dir.join(DATA_DIR))?);
        Self::open_with_storage(ctx, catalog, data_dir, configs, storage).await
    }

    async fn open_with_storage(
        ctx: &SessionContext,
        catalog: Arc<dyn CatalogProvider>,
        data_dir: &Path,
        configs: &[MaterializedViewConfig],
        storage: Arc<Storage>,
    ) -> Result<Self> {
        let history = Arc::new(History::open(data_dir.join(HISTORY_FILE))?);
        let views: Arc<Views> = Arc::default();
        let pause_file = std::env::var_os(PAUSE_FILE_ENV).map(PathBuf::from);
        if let Some(path) = &pause_file {
            tracing::warn!(path = %path.display(), "test hook {PAUSE_FILE_ENV} is set: refreshes pause before switching versions");
        }
        let this = Self {
            inner: Arc::new(Inner {
                ctx: ctx.clone(),
                catalog,
                views: views.clone(),
                history: history.clone(),
                storage,
                definitions_dir: data_dir.join(DEFINITIONS_DIR),
                ddl: tokio::sync::Mutex::new(()),
                root: CancellationToken::new(),
                scheduler: Mutex::new(None),
                tasks: Mutex::new(vec![]),
                pause_file: Mutex::new(pause_file),
            }),
        };

        let mut definitions: BTreeMap<MvName, (String, MvOptions, Origin)> = BTreeMap::new();
        for config in configs {
            let name = config
                .view_name()
                .expect("validated when the config was read");
            definitions.insert(
                name,
                (config.query.clone(), config.options(), Origin::Config),
            );
        }
        for stored in this.read_definitions()? {
            let name = MvName::new(stored.schema, stored.name);
            if definitions.contains_key(&name) {
                tracing::warn!(view = %name, "a materialized view created with SQL has the name of one in the configuration file; the configuration wins");
                continue;
            }
            definitions.insert(name, (stored.query, stored.options, Origin::Sql));
        }
        let mut keys = HashSet::new();
        for (name, (query, options, origin)) in definitions {
            keys.insert(object_key(&name.schema, &name.name));
            this.load(name, query, options, origin).await?;
        }
        for key in this.inner.storage.keys().await? {
            if !keys.contains(&key) {
                tracing::info!(
                    key,
                    "removing the data of a materialized view that no longer exists"
                );
                this.inner.storage.delete_all(&key).await?;
            }
        }

        let schema = schema_in(this.inner.catalog.as_ref(), SYSTEM_SCHEMA, true)?.expect("created");
        for (table, provider) in [
            (
                "materialized_views",
                SystemTable::materialized_views(views.clone(), history.clone()),
            ),
            (
                "refresh_history",
                SystemTable::refresh_history(views.clone(), history.clone()),
            ),
        ] {
            schema.deregister_table(table)?;
            schema.register_table(table.to_string(), Arc::new(provider))?;
        }
        Ok(this)
    }

    fn read_definitions(&self) -> Result<Vec<StoredDefinition>> {
        let dir = &self.inner.definitions_dir;
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(EngineError::io(dir, e)),
        };
        let mut definitions = vec![];
        for entry in entries {
            let entry = entry.map_err(|e| EngineError::io(dir, e))?;
            let path = entry.path();
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') {
                // A temp file of an interrupted write.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if file_name
                .strip_suffix(".json")
                .and_then(parse_object_key)
                .is_none()
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| EngineError::io(&path, e))?;
            match serde_json::from_str::<StoredDefinition>(&text) {
                Ok(definition) => definitions.push(definition),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable materialized-view definition");
                }
            }
        }
        Ok(definitions)
    }

    fn definition_path(&self, name: &MvName) -> PathBuf {
        self.inner
            .definitions_dir
            .join(format!("{}.json", object_key(&name.schema, &name.name)))
    }

    /// Registers a view found at start-up, with its stored data if any.
    async fn load(
        &self,
        name: MvName,
        query: String,
        options: MvOptions,
        origin: Origin,
    ) -> Result<()> {
        let storage = &self.inner.storage;
        let key = object_key(&name.schema, &name.name);
        let state = Arc::new(MvState::new(
            name.clone(),
            key.clone(),
            query,
            options,
            origin,
        ));
        match storage.read_manifest(&key).await {
            Ok(Some(manifest)) => {
                let manifest = Arc::new(manifest);
                if let Err(e) = storage.cleanup(&key, Some(&manifest)).await {
                    tracing::warn!(view = %name, error = %e, "cannot remove leftovers");
                }
                let snapshot = if manifest.query != state.query {
                    tracing::info!(view = %name, "the query changed; the stored rows are not served until the next refresh");
                    None
                } else {
                    match self.stored_schema(&key, &manifest).await {
                        Ok(schema) => Some(Snapshot {
                            manifest: manifest.clone(),
                            schema,
                        }),
                        Err(e) => {
                            tracing::warn!(view = %name, error = %e, "cannot read the stored rows' schema");
                            state.update_status(|s| s.last_error = Some(e.to_string()));
                            None
                        }
                    }
                };
                if snapshot.is_some() {
                    state.update_status(|s| s.last_refresh_us = Some(manifest.refreshed_at_us));
                }
                state.set_current(Some(manifest), snapshot);
            }
            Ok(None) => {
                storage.cleanup(&key, None).await?;
            }
            Err(e) => {
                tracing::warn!(view = %name, error = %e, "cannot read the manifest; the view is empty until it is refreshed");
                state.update_status(|s| s.last_error = Some(e.to_string()));
            }
        }
        let columns = match state.snapshot() {
            Some(snapshot) => snapshot.schema,
            None => self.planned_columns(&state).await,
        };
        if let Err(e) = self.install_table(&state, columns).await {
            tracing::warn!(view = %name, error = %e, "materialized view not registered");
            return Ok(());
        }
        self.inner
            .views
            .lock()
            .expect("not poisoned")
            .insert(name, state);
        Ok(())
    }

    /// The columns of the view's query, empty if it does not plan (yet).
    async fn planned_columns(&self, state: &MvState) -> SchemaRef {
        match self
            .inner
            .ctx
            .state()
            .create_logical_plan(&state.query)
            .await
        {
            Ok(plan) => Arc::new(plan.schema().as_arrow().clone()),
            Err(_) => Arc::new(datafusion::arrow::datatypes::Schema::empty()),
        }
    }

    /// Gives the views that are not populated the columns of their query,
    /// now that the views they may use are registered.
    pub(crate) async fn plan_unpopulated(&self) -> Result<()> {
        let views: Vec<_> = self
            .inner
            .views
            .lock()
            .expect("not poisoned")
            .values()
            .cloned()
            .collect();
        for state in views {
            if state.snapshot().is_none() && state.table_schema().fields().is_empty() {
                let columns = self.planned_columns(&state).await;
                if !columns.fields().is_empty() {
                    self.install_table(&state, columns).await?;
                }
            }
        }
        Ok(())
    }

    async fn stored_schema(
        &self,
        key: &str,
        manifest: &Manifest,
    ) -> datafusion::error::Result<SchemaRef> {
        let file = manifest
            .files
            .first()
            .ok_or_else(|| DataFusionError::Execution("the manifest lists no files".to_string()))?;
        self.inner.storage.read_schema(key, &file.path).await
    }

    /// Registers the view's table with the columns `schema`, replacing its
    /// previous table.
    async fn install_table(&self, state: &Arc<MvState>, schema_ref: SchemaRef) -> Result<()> {
        let schema =
            schema_in(self.inner.catalog.as_ref(), &state.name.schema, true)?.expect("created");
        if let Some(existing) = schema.table(&state.name.name).await? {
            match existing.as_ref().downcast_ref::<MvTable>() {
                Some(table) if Arc::ptr_eq(table.state(), state) => {
                    schema.deregister_table(&state.name.name)?;
                }
                _ => {
                    return Err(error(
                        &state.name,
                        "a table or view of that name already exists",
                    ));
                }
            }
        }
        let table = MvTable::new(state.clone(), self.inner.storage.clone(), schema_ref);
        schema.register_table(state.name.name.clone(), Arc::new(table))?;
        Ok(())
    }

    fn get(&self, name: &MvName) -> Option<Arc<MvState>> {
        self.inner
            .views
            .lock()
            .expect("not poisoned")
            .get(name)
            .cloned()
    }

    /// The names of the materialized views.
    pub fn names(&self) -> Vec<MvName> {
        self.inner
            .views
            .lock()
            .expect("not poisoned")
            .keys()
            .cloned()
            .collect()
    }

    /// The refresh history, oldest first.
    pub fn history(&self) -> Vec<RefreshRecord> {
        self.inner.history.entries()
    }

    /// Runs a statement recognized by [`parse_statement`].
    pub async fn execute(&self, statement: MvStatement) -> Result<MvOutcome> {
        let tag = statement.command_tag();
        let rows = match statement {
            MvStatement::Create {
                name,
                if_not_exists,
                options,
                query,
            } => self.create(name, if_not_exists, options, query).await?,
            MvStatement::Refresh { name } => Some(self.refresh(&name).await?.rows),
            MvStatement::Drop { name, if_exists } => {
                self.drop_view(&name, if_exists).await?;
                None
            }
        };
        Ok(MvOutcome { tag, rows })
    }

    /// Refreshes a view now; waits for a refresh of it that is running.
    pub async fn refresh(&self, name: &MvName) -> Result<RefreshReport> {
        let state = self
            .get(name)
            .ok_or_else(|| error(name, "does not exist"))?;
        self.refresh_state(&state).await
    }

    async fn create(
        &self,
        name: MvName,
        if_not_exists: bool,
        options: MvOptions,
        query: String,
    ) -> Result<Option<u64>> {
        let _ddl = self.inner.ddl.lock().await;
        if self.get(&name).is_some() {
            if if_not_exists {
                return Ok(None);
            }
            return Err(error(&name, "already exists"));
        }
        if let Err((key, message)) = options.validate() {
            return Err(error(&name, format!("option `{key}` {message}")));
        }
        let ctx = &self.inner.ctx;
        let Some(schema) = schema_in(self.inner.catalog.as_ref(), &name.schema, false)? else {
            return Err(error(
                &name,
                format!("schema {} does not exist", quote_ident(&name.schema)),
            ));
        };
        if schema.table_exist(&name.name) {
            return Err(error(&name, "a table or view of that name already exists"));
        }
        let plan = ctx
            .state()
            .create_logical_plan(&query)
            .await
            .map_err(|e| error(&name, e))?;
        if matches!(
            plan,
            LogicalPlan::Ddl(_)
                | LogicalPlan::Dml(_)
                | LogicalPlan::Copy(_)
                | LogicalPlan::Statement(_)
                | LogicalPlan::Explain(_)
                | LogicalPlan::DescribeTable(_)
        ) {
            return Err(error(&name, "AS must be followed by a query"));
        }
        if let Some(column) = &options.time_column
            && plan.schema().field_with_unqualified_name(column).is_err()
        {
            let columns: Vec<_> = plan
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            return Err(error(
                &name,
                format!(
                    "time_column `{column}` is not a column of the query (its columns: {})",
                    columns.join(", ")
                ),
            ));
        }

        let key = object_key(&name.schema, &name.name);
        self.inner.storage.delete_all(&key).await?;
        let stored = StoredDefinition {
            schema: name.schema.clone(),
            name: name.name.clone(),
            query: query.clone(),
            options: options.clone(),
        };
        let path = self.definition_path(&name);
        let json = serde_json::to_vec_pretty(&stored).expect("a definition serializes");
        write_atomically(&path, &json).map_err(|e| EngineError::io(&path, e))?;
        let state = Arc::new(MvState::new(name.clone(), key, query, options, Origin::Sql));
        let columns = Arc::new(plan.schema().as_arrow().clone());
        if let Err(e) = self.install_table(&state, columns).await {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.inner
            .views
            .lock()
            .expect("not poisoned")
            .insert(name.clone(), state.clone());
        match self.refresh_state(&state).await {
            Ok(report) => {
                let token = self.inner.scheduler.lock().expect("not poisoned").clone();
                if let Some(token) = token
                    && !token.is_cancelled()
                {
                    scheduler::spawn(&self.inner, state, token);
                }
                Ok(Some(report.rows))
            }
            Err(e) => {
                // CREATE fails as a whole, as in PostgreSQL.
                self.remove(&state).await;
                Err(e)
            }
        }
    }

    async fn drop_view(&self, name: &MvName, if_exists: bool) -> Result<()> {
        let _ddl = self.inner.ddl.lock().await;
        let Some(state) = self.get(name) else {
            if if_exists {
                return Ok(());
            }
            return Err(error(name, "does not exist"));
        };
        if state.origin == Origin::Config {
            return Err(error(
                name,
                "is declared in the configuration file; remove it there",
            ));
        }
        let _refresh = state.refresh_lock.lock().await;
        self.remove(&state).await;
        Ok(())
    }

    /// Forgets a view: catalog, definition, data and scheduler task.
    async fn remove(&self, state: &Arc<MvState>) {
        state.dropped.store(true, Ordering::SeqCst);
        state.wake.notify_one();
        self.inner
            .views
            .lock()
            .expect("not poisoned")
            .remove(&state.name);
        if let Ok(Some(schema)) = schema_in(self.inner.catalog.as_ref(), &state.name.schema, false)
            && let Ok(Some(table)) = schema.table(&state.name.name).await
            && table
                .as_ref()
                .downcast_ref::<MvTable>()
                .is_some_and(|t| Arc::ptr_eq(t.state(), state))
        {
            let _ = schema.deregister_table(&state.name.name);
        }
        let path = self.definition_path(&state.name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a materialized-view definition")
            }
        }
        if let Err(e) = self.inner.storage.delete_all(&state.key).await {
            tracing::warn!(view = %state.name, error = %e, "cannot remove the view's data; it is removed at the next start");
        }
    }

    /// Starts refreshing the views that have a refresh interval, on the
    /// current tokio runtime; views created later are scheduled too. See
    /// [`SchedulerHandle`] for how it stops.
    pub fn start_scheduler(&self) -> SchedulerHandle {
        let token = self.inner.root.child_token();
        if let Some(previous) = self
            .inner
            .scheduler
            .lock()
            .expect("not poisoned")
            .replace(token.clone())
        {
            previous.cancel();
        }
        let views: Vec<_> = self
            .inner
            .views
            .lock()
            .expect("not poisoned")
            .values()
            .cloned()
            .collect();
        for view in views {
            scheduler::spawn(&self.inner, view, token.clone());
        }
        SchedulerHandle::new(token, Arc::downgrade(&self.inner))
    }
}

#[cfg(test)]
mod tests;
