//! Per-user read access: which schemas and tables a user sees.
//!
//! A user with a restricted [`AccessPolicy`] gets a [`SessionContext`] of
//! their own ([`restricted_context`]) whose catalog hides what they may not
//! read: hidden schemas and tables are absent from `information_schema`,
//! `pg_catalog` and psql's listings, and naming one in a query fails with
//! [`AccessDenied`] (SQLSTATE 42501 on the wire). Everything else — functions,
//! configuration, the memory pool — is shared with the server's context.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, CatalogProviderList, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

/// Schemas every user sees: the catalogs clients browse and almasql's own
/// system tables.
pub const SYSTEM_SCHEMAS: [&str; 3] = ["pg_catalog", "information_schema", "almasql"];

/// What a user may read, by schema and optionally by table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Allowed `schema` or `schema.table` entries; `None` allows everything.
    pub allow: Option<Vec<String>>,
    /// Denied `schema` or `schema.table` entries, applied after `allow`.
    pub deny: Vec<String>,
}

/// A query named a schema or table its user may not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("permission denied for {kind} {name}")]
pub struct AccessDenied {
    /// `schema` or `table`.
    pub kind: &'static str,
    /// The object's name.
    pub name: String,
}

impl AccessPolicy {
    /// Whether the policy allows everything (no wrapper needed).
    pub fn is_unrestricted(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }

    /// Whether anything in `schema` may be read.
    pub fn allows_schema(&self, schema: &str) -> bool {
        if SYSTEM_SCHEMAS.contains(&schema) {
            return true;
        }
        if self.deny.iter().any(|d| d.eq_ignore_ascii_case(schema)) {
            return false;
        }
        match &self.allow {
            None => true,
            Some(allow) => allow.iter().any(|a| {
                let entry_schema = a.split_once('.').map_or(a.as_str(), |(s, _)| s);
                entry_schema.eq_ignore_ascii_case(schema)
            }),
        }
    }

    /// Whether `schema.table` may be read.
    pub fn allows_table(&self, schema: &str, table: &str) -> bool {
        if SYSTEM_SCHEMAS.contains(&schema) {
            return true;
        }
        if !self.allows_schema(schema) {
            return false;
        }
        let matches = |entry: &str| match entry.split_once('.') {
            None => entry.eq_ignore_ascii_case(schema),
            Some((s, t)) => s.eq_ignore_ascii_case(schema) && t.eq_ignore_ascii_case(table),
        };
        if self
            .deny
            .iter()
            .any(|d| d.contains('.') && matches(d.as_str()))
        {
            return false;
        }
        match &self.allow {
            None => true,
            Some(allow) => allow.iter().any(|a| matches(a.as_str())),
        }
    }
}

/// A session over `base`'s catalog, state and functions that only shows
/// what `policy` allows, with a `pg_catalog` of its own for `database`.
pub fn restricted_context(
    base: &SessionContext,
    database: &str,
    policy: AccessPolicy,
) -> DfResult<SessionContext> {
    let state = base.state();
    let catalogs = Arc::new(RestrictedCatalogList {
        inner: state.catalog_list().clone(),
        policy: Arc::new(policy),
        catalogs: RwLock::new(HashMap::new()),
    });
    let state = SessionStateBuilder::new_from_existing(state)
        .with_catalog_list(catalogs)
        .build();
    let ctx = SessionContext::new_with_state(state);
    // registers a pg_catalog over the restricted list; the restricted
    // catalog keeps it instead of replacing the server's own
    setup_pg_catalog(&ctx, database, EmptyContextProvider).map_err(|e| *e)?;
    crate::pg_compat::register(&ctx);
    Ok(ctx)
}

struct RestrictedCatalogList {
    inner: Arc<dyn CatalogProviderList>,
    policy: Arc<AccessPolicy>,
    catalogs: RwLock<HashMap<String, Arc<RestrictedCatalog>>>,
}

impl fmt::Debug for RestrictedCatalogList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestrictedCatalogList")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl CatalogProviderList for RestrictedCatalogList {
    fn register_catalog(
        &self,
        name: String,
        catalog: Arc<dyn CatalogProvider>,
    ) -> Option<Arc<dyn CatalogProvider>> {
        self.catalogs.write().expect("lock").remove(&name);
        self.inner.register_catalog(name, catalog)
    }

    fn catalog_names(&self) -> Vec<String> {
        self.inner.catalog_names()
    }

    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        if let Some(found) = self.catalogs.read().expect("lock").get(name) {
            return Some(found.clone());
        }
        let inner = self.inner.catalog(name)?;
        let wrapped = Arc::new(RestrictedCatalog {
            inner,
            policy: self.policy.clone(),
            own: RwLock::new(HashMap::new()),
        });
        self.catalogs
            .write()
            .expect("lock")
            .insert(name.to_string(), wrapped.clone());
        Some(wrapped)
    }
}

/// A catalog that hides denied schemas; `pg_catalog` registered through it
/// stays with this user.
struct RestrictedCatalog {
    inner: Arc<dyn CatalogProvider>,
    policy: Arc<AccessPolicy>,
    own: RwLock<HashMap<String, Arc<dyn SchemaProvider>>>,
}

impl fmt::Debug for RestrictedCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestrictedCatalog").finish_non_exhaustive()
    }
}

impl CatalogProvider for RestrictedCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.inner
            .schema_names()
            .into_iter()
            .filter(|s| self.policy.allows_schema(s))
            .collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(own) = self.own.read().expect("lock").get(name) {
            return Some(own.clone());
        }
        let inner = self.inner.schema(name)?;
        Some(Arc::new(RestrictedSchema {
            schema: name.to_string(),
            inner,
            policy: self.policy.clone(),
        }))
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        if name == "pg_catalog" {
            return Ok(self
                .own
                .write()
                .expect("lock")
                .insert(name.to_string(), schema));
        }
        Err(denied("schema", name))
    }

    fn deregister_schema(
        &self,
        name: &str,
        _cascade: bool,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        Err(denied("schema", name))
    }
}

/// A schema that hides denied tables and refuses to resolve them.
struct RestrictedSchema {
    schema: String,
    inner: Arc<dyn SchemaProvider>,
    policy: Arc<AccessPolicy>,
}

impl fmt::Debug for RestrictedSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestrictedSchema")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn denied(kind: &'static str, name: &str) -> DataFusionError {
    DataFusionError::External(Box::new(AccessDenied {
        kind,
        name: name.to_string(),
    }))
}

#[async_trait]
impl SchemaProvider for RestrictedSchema {
    fn owner_name(&self) -> Option<&str> {
        self.inner.owner_name()
    }

    fn table_names(&self) -> Vec<String> {
        self.inner
            .table_names()
            .into_iter()
            .filter(|t| self.policy.allows_table(&self.schema, t))
            .collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if !self.policy.allows_schema(&self.schema) {
            return Err(denied("schema", &self.schema));
        }
        if !self.policy.allows_table(&self.schema, name) {
            if self.inner.table_exist(name) {
                return Err(denied("table", &format!("{}.{name}", self.schema)));
            }
            return Ok(None);
        }
        self.inner.table(name).await
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if !self.policy.allows_schema(&self.schema) {
            return Err(denied("schema", &self.schema));
        }
        self.inner.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if !self.policy.allows_table(&self.schema, name) {
            return Err(denied("table", &format!("{}.{name}", self.schema)));
        }
        self.inner.deregister_table(name)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.policy.allows_table(&self.schema, name) && self.inner.table_exist(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::catalog::MemorySchemaProvider;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionConfig;

    fn policy(allow: Option<&[&str]>, deny: &[&str]) -> AccessPolicy {
        AccessPolicy {
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn rules_for_schemas_and_tables() {
        let viewer = policy(None, &["jira"]);
        assert!(viewer.allows_schema("monitor"));
        assert!(!viewer.allows_schema("jira"));
        assert!(!viewer.allows_table("jira", "issues"));
        assert!(viewer.allows_schema("pg_catalog"));

        let narrow = policy(Some(&["monitor.samples", "logs"]), &["logs.acs_errors"]);
        assert!(narrow.allows_schema("monitor"));
        assert!(narrow.allows_table("monitor", "samples"));
        assert!(!narrow.allows_table("monitor", "points"));
        assert!(narrow.allows_table("logs", "acs"));
        assert!(!narrow.allows_table("logs", "acs_errors"));
        assert!(!narrow.allows_schema("ops"));
        assert!(AccessPolicy::default().is_unrestricted());
    }

    async fn base() -> SessionContext {
        let ctx = SessionContext::new_with_config(
            SessionConfig::new()
                .with_information_schema(true)
                .with_default_catalog_and_schema("alma", "public")
                .with_create_default_catalog_and_schema(true),
        );
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![1, 2]))])
                .unwrap();
        for s in ["monitor", "jira"] {
            let provider = Arc::new(MemorySchemaProvider::new());
            ctx.catalog("alma")
                .unwrap()
                .register_schema(s, provider)
                .unwrap();
            for t in ["a", "b"] {
                let table = MemTable::try_new(schema.clone(), vec![vec![batch.clone()]]).unwrap();
                ctx.register_table(format!("{s}.{t}"), Arc::new(table))
                    .unwrap();
            }
        }
        setup_pg_catalog(&ctx, "alma", EmptyContextProvider).unwrap();
        ctx
    }

    async fn strings(ctx: &SessionContext, sql: &str) -> Vec<String> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut out = vec![];
        for b in batches {
            let col = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
            let col = col
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .unwrap();
            out.extend(col.iter().map(|v| v.unwrap_or_default().to_string()));
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn hidden_in_listings_and_denied_by_name() {
        let base = base().await;
        let ctx = restricted_context(&base, "alma", policy(None, &["jira", "monitor.b"])).unwrap();

        let schemas = strings(
            &ctx,
            "select schema_name from information_schema.schemata where catalog_name = 'alma'",
        )
        .await;
        assert!(schemas.contains(&"monitor".to_string()), "{schemas:?}");
        assert!(!schemas.contains(&"jira".to_string()), "{schemas:?}");
        let tables = strings(
            &ctx,
            "select table_schema || '.' || table_name from information_schema.tables \
             where table_schema in ('monitor', 'jira')",
        )
        .await;
        assert_eq!(tables, vec!["monitor.a"]);
        let pg_tables = strings(
            &ctx,
            "select n.nspname || '.' || c.relname from pg_catalog.pg_class c \
             join pg_catalog.pg_namespace n on c.relnamespace = n.oid \
             where n.nspname in ('monitor', 'jira')",
        )
        .await;
        assert_eq!(pg_tables, vec!["monitor.a"]);

        for (sql, expected) in [
            ("select * from jira.a", "permission denied for schema jira"),
            (
                "select * from monitor.b",
                "permission denied for table monitor.b",
            ),
        ] {
            let err = ctx.sql(sql).await.unwrap_err();
            assert!(err.to_string().contains(expected), "{sql}: {err}");
            assert!(
                matches!(err.find_root(), DataFusionError::External(e) if e.downcast_ref::<AccessDenied>().is_some()),
                "{err:?}"
            );
        }
        assert_eq!(strings(&ctx, "select x from monitor.a").await.len(), 2);

        // the server's own context still sees everything
        let all = strings(
            &base,
            "select n.nspname || '.' || c.relname from pg_catalog.pg_class c \
             join pg_catalog.pg_namespace n on c.relnamespace = n.oid \
             where n.nspname in ('monitor', 'jira')",
        )
        .await;
        assert_eq!(all.len(), 4, "{all:?}");
    }
}
