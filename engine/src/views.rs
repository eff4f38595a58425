//! Persistent views.
//!
//! DataFusion plans `CREATE [OR REPLACE] VIEW` into a [`ViewTable`] and
//! registers it through [`SchemaProvider::register_table`]; `DROP VIEW`
//! deregisters it. [`install`] wraps the session's default catalog in a
//! [`PersistentCatalog`] whose schemas (those that exist and those `CREATE
//! SCHEMA` adds later) write each view's definition to
//! `<data_dir>/catalog/views/<schema>.<name>.sql` when it is registered and
//! delete it when it is deregistered. [`PersistentCatalog::replay`] plans
//! the stored definitions again at start-up, after every source is
//! registered. A view that no longer plans (a source was removed) is logged
//! and registered as a [`BrokenView`], whose queries fail with the reason
//! and whose definition is still the stored text, so the server still starts
//! and the view can be dropped or replaced.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, StringBuilder, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemorySchemaProvider, SchemaProvider, Session,
    TableProvider,
};
use datafusion::common::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, DdlStatement, Expr, LogicalPlan, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    TableType, Volatility,
};
use datafusion::optimizer::Analyzer;
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::FutureExt;

use crate::error::{EngineError, Result};
use crate::materialized::MvTable;

/// Where view definitions are kept, relative to the data directory.
pub const VIEWS_DIR: &str = "catalog/views";

/// Wraps the session's default catalog so views persist (see the module
/// documentation) and registers [`register_pg_get_viewdef`]. Calling it
/// again returns the catalog already installed.
pub fn install(ctx: &SessionContext, data_dir: &Path) -> Result<Arc<PersistentCatalog>> {
    let name = default_catalog(ctx);
    let inner = ctx
        .catalog(&name)
        .expect("the default catalog is created with the session");
    if let Some(existing) = inner.as_ref().downcast_ref::<PersistentCatalog>() {
        return Ok(Arc::new(existing.clone()));
    }
    let store = Arc::new(ViewStore::new(data_dir.join(VIEWS_DIR)));
    let catalog = Arc::new(PersistentCatalog { inner, store });
    ctx.register_catalog(name, catalog.clone());
    register_pg_get_viewdef(ctx);
    Ok(catalog)
}

/// The name of the session's default catalog.
pub(crate) fn default_catalog(ctx: &SessionContext) -> String {
    ctx.state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone()
}

/// The schema `schema` of the default catalog without the persisting
/// wrapper, created if missing when `create` is set: registering through it
/// does not touch the stored views.
pub(crate) fn plain_schema(
    ctx: &SessionContext,
    schema: &str,
    create: bool,
) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
    let catalog = ctx
        .catalog(&default_catalog(ctx))
        .expect("the default catalog is created with the session");
    let catalog: Arc<dyn CatalogProvider> =
        match catalog.as_ref().downcast_ref::<PersistentCatalog>() {
            Some(persistent) => persistent.inner.clone(),
            None => catalog,
        };
    match catalog.schema(schema) {
        Some(s) => Ok(Some(s)),
        None if create => {
            let s: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
            catalog.register_schema(schema, s.clone())?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

/// A catalog whose schemas persist the views registered in them.
#[derive(Debug, Clone)]
pub struct PersistentCatalog {
    inner: Arc<dyn CatalogProvider>,
    store: Arc<ViewStore>,
}

impl PersistentCatalog {
    /// Plans every stored view again and registers it; a view that does not
    /// plan is logged (`tracing` warn with its name and the reason) and
    /// registered as a [`BrokenView`]. Views may use each other: they are
    /// planned in rounds until no more succeed. Returns the broken views.
    pub async fn replay(&self, ctx: &SessionContext) -> Result<Vec<BrokenView>> {
        let mut pending = self.store.load()?;
        let mut errors: HashMap<(String, String), String> = HashMap::new();
        loop {
            let mut progressed = false;
            let mut still = vec![];
            for view in pending {
                match plan_view(ctx, &view.definition).await {
                    Ok(table) => {
                        // Keeps the stored columns up to date (rewritten only
                        // when they changed).
                        if let Err(e) = self.store.save(
                            &view.schema,
                            &view.name,
                            &view.definition,
                            &table.schema(),
                        ) {
                            tracing::warn!(view = %view.display_name(), error = %e, "cannot update the stored view");
                        }
                        self.register_plain(&view.schema, &view.name, Arc::new(table))?;
                        tracing::debug!(view = %view.display_name(), "restored view");
                        progressed = true;
                    }
                    Err(e) => {
                        errors.insert((view.schema.clone(), view.name.clone()), e.to_string());
                        still.push(view);
                    }
                }
            }
            pending = still;
            if !progressed || pending.is_empty() {
                break;
            }
        }
        let mut broken = vec![];
        for view in pending {
            let reason = errors
                .remove(&(view.schema.clone(), view.name.clone()))
                .unwrap_or_default();
            tracing::warn!(view = %view.display_name(), %reason, "view no longer plans; queries on it fail until it is replaced or dropped");
            let table = BrokenView {
                name: view.display_name(),
                definition: view.definition.clone(),
                reason,
                schema: view.columns.clone(),
            };
            self.register_plain(&view.schema, &view.name, Arc::new(table.clone()))?;
            broken.push(table);
        }
        Ok(broken)
    }

    fn register_plain(
        &self,
        schema: &str,
        name: &str,
        table: Arc<dyn TableProvider>,
    ) -> Result<()> {
        let provider = match self.inner.schema(schema) {
            Some(s) => s,
            None => {
                let s: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
                self.inner.register_schema(schema, s.clone())?;
                s
            }
        };
        if provider.table_exist(name) {
            tracing::warn!(
                schema,
                name,
                "a stored view has the name of an existing table; keeping the table"
            );
            return Ok(());
        }
        provider.register_table(name.to_string(), table)?;
        Ok(())
    }
}

/// Plans a stored `CREATE VIEW` statement into the table DataFusion would
/// register for it.
async fn plan_view(ctx: &SessionContext, definition: &str) -> DfResult<ViewTable> {
    let plan = ctx.state().create_logical_plan(definition).await?;
    let LogicalPlan::Ddl(DdlStatement::CreateView(create)) = plan else {
        return Err(DataFusionError::Plan(
            "the stored definition is not a CREATE VIEW statement".to_string(),
        ));
    };
    // As SessionContext::create_view does.
    let input = Analyzer::with_rules(vec![Arc::new(TypeCoercion::new())]).execute_and_check(
        Arc::unwrap_or_clone(create.input),
        &ConfigOptions::default(),
        |_, _| {},
    )?;
    Ok(ViewTable::new(input, create.definition))
}

impl CatalogProvider for PersistentCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.inner.schema_names()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let inner = self.inner.schema(name)?;
        Some(Arc::new(PersistentSchema {
            schema_name: name.to_string(),
            inner,
            store: self.store.clone(),
        }))
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        let schema = match schema.as_ref().downcast_ref::<PersistentSchema>() {
            Some(persistent) => persistent.inner.clone(),
            None => schema,
        };
        self.inner.register_schema(name, schema)
    }

    fn deregister_schema(
        &self,
        name: &str,
        cascade: bool,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        if let Some(schema) = self.inner.schema(name) {
            let has_mv = schema.table_names().iter().any(|t| {
                // In-memory schemas answer at once; others are not checked.
                schema
                    .table(t)
                    .now_or_never()
                    .and_then(|r| r.ok().flatten())
                    .is_some_and(|t| t.as_ref().downcast_ref::<MvTable>().is_some())
            });
            if has_mv && cascade {
                return Err(DataFusionError::Execution(format!(
                    "schema {name} holds materialized views; drop them first with DROP MATERIALIZED VIEW"
                )));
            }
        }
        let removed = self.inner.deregister_schema(name, cascade)?;
        if removed.is_some() {
            self.store.delete_schema(name).map_err(external)?;
        }
        Ok(removed)
    }
}

/// A schema that persists the views registered in it.
#[derive(Debug)]
pub struct PersistentSchema {
    schema_name: String,
    inner: Arc<dyn SchemaProvider>,
    store: Arc<ViewStore>,
}

#[async_trait]
impl SchemaProvider for PersistentSchema {
    fn owner_name(&self) -> Option<&str> {
        self.inner.owner_name()
    }

    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        self.inner.table(name).await
    }

    async fn table_type(&self, name: &str) -> DfResult<Option<TableType>> {
        self.inner.table_type(name).await
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let definition = table
            .as_ref()
            .downcast_ref::<ViewTable>()
            .and_then(|v| v.definition().cloned());
        let columns = table.schema();
        let previous = self.inner.register_table(name.clone(), table)?;
        if let Some(definition) = definition
            && let Err(e) = self
                .store
                .save(&self.schema_name, &name, &definition, &columns)
        {
            self.inner.deregister_table(&name)?;
            if let Some(previous) = previous {
                self.inner.register_table(name, previous)?;
            }
            return Err(external(e));
        }
        Ok(previous)
    }

    fn deregister_table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let Some(removed) = self.inner.deregister_table(name)? else {
            return Ok(None);
        };
        let table = removed.as_ref();
        let refuse = |message: String| -> DfResult<Option<Arc<dyn TableProvider>>> {
            self.inner
                .register_table(name.to_string(), removed.clone())?;
            Err(DataFusionError::Execution(message))
        };
        if let Some(mv) = table.downcast_ref::<MvTable>() {
            return refuse(format!(
                "{} is a materialized view; use DROP MATERIALIZED VIEW",
                mv.name()
            ));
        }
        let is_view = table.downcast_ref::<ViewTable>().is_some()
            || table.downcast_ref::<BrokenView>().is_some();
        if is_view && let Err(e) = self.store.delete(&self.schema_name, name) {
            return refuse(e.to_string());
        }
        Ok(Some(removed))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

fn external(e: EngineError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// A stored view whose definition no longer plans. Its definition is the
/// stored text; any query on it fails with the reason.
#[derive(Debug, Clone)]
pub struct BrokenView {
    name: String,
    definition: String,
    reason: String,
    schema: SchemaRef,
}

impl BrokenView {
    /// The view's name, `schema.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why the stored definition does not plan.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    fn error(&self) -> DataFusionError {
        DataFusionError::Plan(format!(
            "view {} cannot be used: its definition no longer plans: {}",
            self.name, self.reason
        ))
    }
}

#[async_trait]
impl TableProvider for BrokenView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.definition)
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(self.error())
    }
}

/// A view definition read from the data directory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredView {
    pub schema: String,
    pub name: String,
    pub definition: String,
    /// The columns when it was last planned.
    pub columns: SchemaRef,
}

impl StoredView {
    fn display_name(&self) -> String {
        crate::materialized::MvName::new(&self.schema, &self.name).to_string()
    }
}

/// The view definitions in `<data_dir>/catalog/views`, one file each.
#[derive(Debug)]
pub(crate) struct ViewStore {
    dir: PathBuf,
    /// What is on disk, so replaying a view does not write it again.
    written: Mutex<HashMap<(String, String), String>>,
}

impl ViewStore {
    fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            written: Mutex::new(HashMap::new()),
        }
    }

    fn path(&self, schema: &str, name: &str) -> PathBuf {
        self.dir.join(format!("{}.sql", object_key(schema, name)))
    }

    /// Stores a view: a first line `-- almasql columns: <json>` (so a view
    /// that no longer plans still has its columns), then the definition.
    fn save(&self, schema: &str, name: &str, definition: &str, columns: &Schema) -> Result<()> {
        let key = (schema.to_string(), name.to_string());
        let columns: Vec<(&str, String, bool)> = columns
            .fields()
            .iter()
            .map(|f| {
                (
                    f.name().as_str(),
                    f.data_type().to_string(),
                    f.is_nullable(),
                )
            })
            .collect();
        let content = format!(
            "{COLUMNS_HEADER}{}\n{definition}",
            serde_json::to_string(&columns).expect("columns serialize")
        );
        let mut written = self.written.lock().expect("not poisoned");
        if written.get(&key).is_some_and(|c| *c == content) {
            return Ok(());
        }
        let path = self.path(schema, name);
        write_atomically(&path, content.as_bytes()).map_err(|e| EngineError::io(&path, e))?;
        written.insert(key, content);
        Ok(())
    }

    fn delete(&self, schema: &str, name: &str) -> Result<()> {
        let mut written = self.written.lock().expect("not poisoned");
        let path = self.path(schema, name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io(&path, e)),
        }
        written.remove(&(schema.to_string(), name.to_string()));
        Ok(())
    }

    fn delete_schema(&self, schema: &str) -> Result<()> {
        for view in self.load()? {
            if view.schema == schema {
                self.delete(&view.schema, &view.name)?;
            }
        }
        Ok(())
    }

    /// Reads every stored definition, removing temp files left by a crash.
    fn load(&self) -> Result<Vec<StoredView>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(EngineError::io(&self.dir, e)),
        };
        let mut views = vec![];
        let mut written = self.written.lock().expect("not poisoned");
        for entry in entries {
            let entry = entry.map_err(|e| EngineError::io(&self.dir, e))?;
            let path = entry.path();
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if is_temp_file(&file_name) {
                tracing::info!(path = %path.display(), "removing a temp file left by an interrupted write");
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some((schema, name)) = file_name.strip_suffix(".sql").and_then(parse_object_key)
            else {
                tracing::warn!(path = %path.display(), "ignoring a file that is not a view definition");
                continue;
            };
            let content = std::fs::read_to_string(&path).map_err(|e| EngineError::io(&path, e))?;
            let (columns, definition) = parse_stored(&content);
            written.insert((schema.clone(), name.clone()), content);
            views.push(StoredView {
                schema,
                name,
                definition,
                columns,
            });
        }
        views.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        Ok(views)
    }
}

const COLUMNS_HEADER: &str = "-- almasql columns: ";

/// Splits a stored view into its columns (empty if the header is missing
/// or unreadable) and its definition.
fn parse_stored(content: &str) -> (SchemaRef, String) {
    let Some(rest) = content.strip_prefix(COLUMNS_HEADER) else {
        return (Arc::new(Schema::empty()), content.to_string());
    };
    let (header, definition) = rest.split_once('\n').unwrap_or((rest, ""));
    let fields: Option<Vec<Field>> = serde_json::from_str::<Vec<(String, String, bool)>>(header)
        .ok()
        .and_then(|columns| {
            columns
                .into_iter()
                .map(|(name, ty, nullable)| {
                    ty.parse::<DataType>()
                        .ok()
                        .map(|ty| Field::new(name, ty, nullable))
                })
                .collect()
        });
    let schema = fields.map_or_else(Schema::empty, Schema::new);
    (Arc::new(schema), definition.to_string())
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
const TEMP_MARKER: &str = ".tmp-";

fn is_temp_file(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.contains(TEMP_MARKER)
}

/// Writes `bytes` to `path` so that a reader (or a crash) sees either the
/// old content or the new one: a temp file in the same directory, synced,
/// then renamed over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{file_name}{TEMP_MARKER}{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    // Make the rename itself durable; not every platform can sync a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `<schema>.<name>` with every character other than ASCII letters, digits,
/// `_` and `-` written as `+HH` (its UTF-8 bytes in hex), so any quoted name
/// makes a valid file or object name and the key splits at its one dot.
pub(crate) fn object_key(schema: &str, name: &str) -> String {
    format!("{}.{}", encode_part(schema), encode_part(name))
}

/// The inverse of [`object_key`].
pub(crate) fn parse_object_key(key: &str) -> Option<(String, String)> {
    let (schema, name) = key.split_once('.')?;
    Some((decode_part(schema)?, decode_part(name)?))
}

fn encode_part(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

fn decode_part(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = part.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

impl fmt::Display for StoredView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

/// Registers `pg_get_viewdef(oid [, pretty])` and `pg_get_viewdef(name)`,
/// which psql's `\d+ view` calls: the query of a view or materialized view
/// of the default catalog, found through `pg_catalog.pg_class` (whose OIDs
/// datafusion-pg-catalog assigns).
pub fn register_pg_get_viewdef(ctx: &SessionContext) {
    let udf = PgGetViewdef {
        catalogs: ctx.state().catalog_list().clone(),
        catalog: default_catalog(ctx),
        signature: Signature::variadic_any(Volatility::Stable),
    };
    ctx.register_udf(AsyncScalarUDF::new(Arc::new(udf)).into_scalar_udf());
}

#[derive(Debug)]
struct PgGetViewdef {
    catalogs: Arc<dyn CatalogProviderList>,
    catalog: String,
    signature: Signature,
}

impl PartialEq for PgGetViewdef {
    fn eq(&self, other: &Self) -> bool {
        self.catalog == other.catalog
            && std::ptr::addr_eq(Arc::as_ptr(&self.catalogs), Arc::as_ptr(&other.catalogs))
    }
}

impl Eq for PgGetViewdef {}

impl std::hash::Hash for PgGetViewdef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.catalog.hash(state);
    }
}

impl ScalarUDFImpl for PgGetViewdef {
    fn name(&self) -> &str {
        "pg_get_viewdef"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        if arg_types.is_empty() || arg_types.len() > 2 {
            return Err(DataFusionError::Plan(
                "pg_get_viewdef takes a view's oid or name, and optionally a boolean".to_string(),
            ));
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Err(DataFusionError::Internal(
            "pg_get_viewdef runs asynchronously".to_string(),
        ))
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for PgGetViewdef {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let first = args.args[0].to_array(rows)?;
        let Some(catalog) = self.catalogs.catalog(&self.catalog) else {
            return Ok(ColumnarValue::Array(new_null_array(&DataType::Utf8, rows)));
        };
        let names: Vec<Option<(String, String)>> = match first.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let text = cast(&first, &DataType::Utf8)?;
                text.as_string::<i32>()
                    .iter()
                    .map(|name| {
                        name.map(|n| match n.split_once('.') {
                            Some((s, t)) => (s.to_string(), t.to_string()),
                            None => ("public".to_string(), n.to_string()),
                        })
                    })
                    .collect()
            }
            _ => {
                let oids = cast(&first, &DataType::Int64)?;
                let relations = view_oids(&catalog).await?;
                oids.as_primitive::<Int64Type>()
                    .iter()
                    .map(|oid| oid.and_then(|oid| relations.get(&oid).cloned()))
                    .collect()
            }
        };
        let mut out = StringBuilder::new();
        for name in names {
            let table = match &name {
                Some((schema, table)) => match catalog.schema(schema) {
                    Some(s) => s.table(table).await?,
                    None => None,
                },
                None => None,
            };
            out.append_option(table.and_then(|t| view_query(t.as_ref())));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The views' OIDs in `pg_class`, with their schema and name.
async fn view_oids(catalog: &Arc<dyn CatalogProvider>) -> DfResult<HashMap<i64, (String, String)>> {
    let Some(pg) = catalog.schema("pg_catalog") else {
        return Ok(HashMap::new());
    };
    let (Some(class), Some(namespace)) =
        (pg.table("pg_class").await?, pg.table("pg_namespace").await?)
    else {
        return Ok(HashMap::new());
    };
    let ctx = SessionContext::new();
    ctx.register_table("c", class)?;
    ctx.register_table("n", namespace)?;
    let batches = ctx
        .sql(
            "select cast(c.oid as bigint), n.nspname, c.relname \
             from c join n on c.relnamespace = n.oid where c.relkind = 'v'",
        )
        .await?
        .collect()
        .await?;
    let mut views = HashMap::new();
    for batch in batches {
        let oids = batch.column(0).as_primitive::<Int64Type>();
        let schemas = cast(batch.column(1), &DataType::Utf8)?;
        let names = cast(batch.column(2), &DataType::Utf8)?;
        let (schemas, names) = (schemas.as_string::<i32>(), names.as_string::<i32>());
        for i in 0..batch.num_rows() {
            views.insert(
                oids.value(i),
                (schemas.value(i).to_string(), names.value(i).to_string()),
            );
        }
    }
    Ok(views)
}

/// The query of a view: what follows `AS` in its definition.
fn view_query(table: &dyn TableProvider) -> Option<String> {
    if let Some(mv) = table.downcast_ref::<MvTable>() {
        return Some(mv.state().query.clone());
    }
    let definition = table.get_table_definition()?;
    let dialect = datafusion::sql::sqlparser::dialect::PostgreSqlDialect {};
    let statements = DFParser::parse_sql_with_dialect(definition, &dialect).ok()?;
    match statements.front()? {
        DFStatement::Statement(statement) => match statement.as_ref() {
            SqlStatement::CreateView(create) => Some(create.query.to_string()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{events, query_error, rows, session};

    fn stored_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir.join(VIEWS_DIR))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[tokio::test]
    async fn views_persist_across_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let source = || vec![("events", events(&[(1, "a"), (2, "b"), (3, "b")]))];
        {
            let s = session(dir.path(), source()).await;
            rows(&s, "create schema s").await;
            rows(
                &s,
                "create view s.base as select v from public.events where v = 'b'",
            )
            .await;
            // Planned after s.base although it sorts first.
            rows(
                &s,
                "create view public.\"Counted\" as select count(*) as n from s.base",
            )
            .await;
            assert_eq!(rows(&s, "select n from \"Counted\"").await, ["2"]);
        }
        assert_eq!(
            stored_files(dir.path()),
            ["public.Counted.sql", "s.base.sql"]
        );

        let s = session(dir.path(), source()).await;
        assert!(s.broken_views().is_empty());
        assert_eq!(rows(&s, "select n from \"Counted\"").await, ["2"]);
        assert_eq!(rows(&s, "select v from s.base").await, ["b", "b"]);
        assert_eq!(
            rows(
                &s,
                // DataFusion lists base tables too, without a definition.
                "select table_schema, table_name, definition from information_schema.views \
                 where table_schema in ('public', 's') and definition is not null order by 1, 2"
            )
            .await,
            [
                "public|Counted|CREATE VIEW public.\"Counted\" AS SELECT count(*) AS n FROM s.base",
                "s|base|CREATE VIEW s.base AS SELECT v FROM public.events WHERE v = 'b'",
            ]
        );
        assert_eq!(
            rows(
                &s,
                "select relname, relkind from pg_catalog.pg_class where relname in ('Counted', 'base') order by 1"
            )
            .await,
            ["Counted|v", "base|v"]
        );
        // psql's \d+ asks for the query by oid.
        assert_eq!(
            rows(
                &s,
                "select relname, pg_get_viewdef(oid, true) from pg_catalog.pg_class \
                 where relkind = 'v' and relname in ('Counted', 'base') order by 1"
            )
            .await,
            [
                "Counted|SELECT count(*) AS n FROM s.base",
                "base|SELECT v FROM public.events WHERE v = 'b'"
            ]
        );
        assert_eq!(
            rows(
                &s,
                "select pg_get_viewdef('s.base'), pg_get_viewdef('nope')"
            )
            .await,
            ["SELECT v FROM public.events WHERE v = 'b'|NULL"]
        );
    }

    #[tokio::test]
    async fn replace_and_drop_persist() {
        let dir = tempfile::tempdir().unwrap();
        let source = || vec![("events", events(&[(1, "a"), (2, "b")]))];
        {
            let s = session(dir.path(), source()).await;
            rows(&s, "create view v as select v from events where v = 'a'").await;
            rows(
                &s,
                "create or replace view v as select v from events where v = 'b'",
            )
            .await;
            rows(&s, "create view gone as select 1 as x").await;
            rows(&s, "drop view gone").await;
            rows(&s, "drop view if exists never_was").await;
            let e = query_error(&s, "drop view never_was").await;
            assert!(e.contains("doesn't exist"), "{e}");
            assert_eq!(rows(&s, "select * from v").await, ["b"]);
        }
        assert_eq!(stored_files(dir.path()), ["public.v.sql"]);
        let s = session(dir.path(), source()).await;
        assert_eq!(rows(&s, "select * from v").await, ["b"]);
        let e = query_error(&s, "select * from gone").await;
        assert!(e.contains("gone"), "{e}");
        rows(&s, "drop view v").await;
        assert!(stored_files(dir.path()).is_empty());
        drop(s);
        let s = session(dir.path(), source()).await;
        assert!(
            query_error(&s, "select * from v")
                .await
                .contains("not found")
        );
    }

    #[tokio::test]
    async fn broken_view_is_reported_and_the_session_still_builds() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = session(dir.path(), vec![("events", events(&[(1, "a")]))]).await;
            rows(&s, "create view needs_events as select v from events").await;
            rows(&s, "create view fine as select 1 as one").await;
        }
        // The source is gone at the next start.
        let s = session(dir.path(), vec![]).await;
        let broken: Vec<_> = s.broken_views().iter().map(|b| b.name()).collect();
        assert_eq!(broken, ["public.needs_events"]);
        assert!(s.broken_views()[0].reason().contains("events"));
        assert_eq!(rows(&s, "select one from fine").await, ["1"]);
        for query in [
            "select count(*) from needs_events",
            "select v from needs_events where v > 'a'",
        ] {
            let e = query_error(&s, query).await;
            assert!(
                e.contains("view public.needs_events cannot be used") && e.contains("events"),
                "{e}"
            );
        }
        // Still listed with its stored definition, and the file is kept.
        assert_eq!(
            rows(
                &s,
                "select definition from information_schema.views where table_name = 'needs_events'"
            )
            .await,
            ["CREATE VIEW needs_events AS SELECT v FROM events"]
        );
        assert_eq!(
            stored_files(dir.path()),
            ["public.fine.sql", "public.needs_events.sql"]
        );
        // It can be replaced, and the replacement persists.
        rows(&s, "create or replace view needs_events as select 'x' as v").await;
        assert_eq!(rows(&s, "select v from needs_events").await, ["x"]);
        drop(s);
        let s = session(dir.path(), vec![]).await;
        assert!(s.broken_views().is_empty());
        assert_eq!(rows(&s, "select v from needs_events").await, ["x"]);
        rows(&s, "drop view needs_events").await;
        assert_eq!(stored_files(dir.path()), ["public.fine.sql"]);
    }

    #[tokio::test]
    async fn drop_schema_cascade_forgets_its_views() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(dir.path(), vec![]).await;
        rows(&s, "create schema tmp").await;
        rows(&s, "create view tmp.v as select 1 as x").await;
        assert_eq!(stored_files(dir.path()), ["tmp.v.sql"]);
        rows(&s, "drop schema tmp cascade").await;
        assert!(stored_files(dir.path()).is_empty());
    }

    #[test]
    fn object_keys_round_trip() {
        for (schema, name) in [
            ("public", "v"),
            ("Ops", "a.b/c d"),
            ("s", "ü+%"),
            ("x_y-z", ""),
        ] {
            let key = object_key(schema, name);
            assert_eq!(key.matches('.').count(), 1, "{key}");
            assert!(!key.contains('/') && !key.contains('%'), "{key}");
            assert_eq!(
                parse_object_key(&key),
                Some((schema.to_string(), name.to_string()))
            );
        }
        assert_eq!(object_key("public", "a.b"), "public.a+2Eb");
    }

    #[test]
    fn stored_columns_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = ViewStore::new(dir.path().to_path_buf());
        let columns = Schema::new(vec![
            Field::new(
                "t",
                DataType::Timestamp(
                    datafusion::arrow::datatypes::TimeUnit::Microsecond,
                    Some("UTC".into()),
                ),
                true,
            ),
            Field::new("Name \"x\"", DataType::Utf8View, false),
            Field::new("n", DataType::Decimal128(12, 3), true),
        ]);
        let definition = "CREATE VIEW v AS SELECT 1\n-- trailing\n";
        store.save("public", "v", definition, &columns).unwrap();
        let views = store.load().unwrap();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].definition, definition);
        assert_eq!(*views[0].columns, columns);
        // A file without the header (written by hand) still loads.
        std::fs::write(dir.path().join("public.w.sql"), "CREATE VIEW w AS SELECT 2").unwrap();
        let views = store.load().unwrap();
        assert_eq!(views[1].definition, "CREATE VIEW w AS SELECT 2");
        assert!(views[1].columns.fields().is_empty());
    }

    #[test]
    fn atomic_writes_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file.sql");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file.sql"]);
    }
}
