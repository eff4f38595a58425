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
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{
    CatalogProvider, MemorySchemaProvider, SchemaProvider, Session, TableProvider,
};
use datafusion::common::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{DdlStatement, Expr, LogicalPlan, TableType};
use datafusion::optimizer::Analyzer;
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use futures::FutureExt;

use crate::error::{EngineError, Result};
use crate::materialized::MvTable;

mod store;
#[cfg(test)]
mod tests;
mod viewdef;

pub(crate) use store::ViewStore;
pub use viewdef::register_pg_get_viewdef;

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

/// A catalog whose schemas persist the views registered in them.
#[derive(Debug, Clone)]
pub struct PersistentCatalog {
    inner: Arc<dyn CatalogProvider>,
    store: Arc<ViewStore>,
}

impl PersistentCatalog {
    /// The wrapped catalog: registering through it does not touch the
    /// stored views.
    pub fn plain(&self) -> Arc<dyn CatalogProvider> {
        self.inner.clone()
    }

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
