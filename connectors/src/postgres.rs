//! A PostgreSQL schema mounted as an almasql schema (kind `postgres`).
//!
//! Built on `datafusion-table-providers` (its PostgreSQL pool and
//! `SqlTable`): every table of the remote schema becomes a table here; type
//! mapping, connection pooling and the push-down of projections, filters
//! and LIMIT into the remote SQL are that crate's. We add the configuration,
//! the listing of the remote tables, and errors that name the source
//! without the password.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::TableReference;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion_table_providers_common::sql::db_connection_pool::DbConnectionPool;
use datafusion_table_providers_common::sql::db_connection_pool::dbconnection::get_tables;
use datafusion_table_providers_postgres::PostgresTableFactory;
use datafusion_table_providers_postgres::pool::PostgresConnectionPool;
use secrecy::SecretString;
use serde::Deserialize;

use crate::error::{ConnectorError, Result};

/// Options of a `postgres` source.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PostgresOptions {
    /// The almasql schema the remote tables appear in.
    pub schema: String,
    /// Server host name or address.
    pub host: String,
    /// Server port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password; prefer `password_env`.
    #[serde(default)]
    pub password: Option<String>,
    /// Name of an environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Database name.
    pub database: String,
    /// The remote schema to mount.
    #[serde(default = "default_remote_schema")]
    pub remote_schema: String,
    /// Only these remote tables (all tables when absent).
    #[serde(default)]
    pub tables: Option<Vec<String>>,
    /// `disable`, `prefer` or `require` (TLS to the server).
    #[serde(default = "default_sslmode")]
    pub sslmode: String,
}

fn default_port() -> u16 {
    5432
}

fn default_remote_schema() -> String {
    "public".to_string()
}

fn default_sslmode() -> String {
    "prefer".to_string()
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("schema", &self.schema)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("database", &self.database)
            .field("remote_schema", &self.remote_schema)
            .field("tables", &self.tables)
            .field("sslmode", &self.sslmode)
            .finish()
    }
}

impl PostgresOptions {
    /// An error naming the source, never the password.
    pub(crate) fn error(&self, message: impl fmt::Display) -> ConnectorError {
        ConnectorError::Options {
            source_name: format!(
                "{} (postgres {}@{}:{}/{})",
                self.schema, self.user, self.host, self.port, self.database
            ),
            message: message.to_string(),
        }
    }

    fn password(&self) -> Result<Option<String>> {
        match (&self.password, &self.password_env) {
            (Some(p), _) => Ok(Some(p.clone())),
            (None, Some(var)) => std::env::var(var)
                .map(Some)
                .map_err(|_| self.error(format!("environment variable {var} is not set"))),
            (None, None) => Ok(None),
        }
    }

    /// Removes the password from a driver message, in case it quotes it.
    pub(crate) fn scrub(&self, message: String) -> String {
        match self.password().ok().flatten() {
            Some(p) if !p.is_empty() => message.replace(&p, "<redacted>"),
            _ => message,
        }
    }
}

/// A connection pool to the server of `options` (TLS per `sslmode`).
pub(crate) async fn pool(options: &PostgresOptions) -> Result<Arc<PostgresConnectionPool>> {
    let mut params: HashMap<String, SecretString> = HashMap::new();
    let mut put = |k: &str, v: String| {
        params.insert(k.to_string(), SecretString::from(v));
    };
    put("host", options.host.clone());
    put("port", options.port.to_string());
    put("user", options.user.clone());
    put("db", options.database.clone());
    put("sslmode", options.sslmode.clone());
    if let Some(p) = options.password()? {
        put("pass", p);
    }
    let pool = PostgresConnectionPool::new(params)
        .await
        .map_err(|e| options.error(options.scrub(format!("cannot connect: {e}"))))?;
    let pool = Arc::new(pool);
    Ok(pool)
}

/// Connects, lists the remote tables and returns a provider for each, by
/// name. Fails with an error naming the source (never the password) when
/// the server cannot be reached or refuses the login.
pub async fn mount(options: &PostgresOptions) -> Result<Vec<(String, Arc<dyn TableProvider>)>> {
    let pool = pool(options).await?;
    let conn = pool
        .connect()
        .await
        .map_err(|e| options.error(options.scrub(format!("cannot connect: {e}"))))?;
    let mut names = get_tables(conn, &options.remote_schema)
        .await
        .map_err(|e| options.error(options.scrub(format!("cannot list tables: {e}"))))?;
    if let Some(wanted) = &options.tables {
        for w in wanted {
            if !names.contains(w) {
                return Err(options.error(format!(
                    "table {w} is not in remote schema {}",
                    options.remote_schema
                )));
            }
        }
        names.retain(|n| wanted.contains(n));
    }
    names.sort();
    let factory = PostgresTableFactory::new(pool);
    let mut tables = vec![];
    for name in names {
        let reference = TableReference::partial(options.remote_schema.clone(), name.clone());
        let provider = factory
            .table_provider(reference)
            .await
            .map_err(|e| options.error(options.scrub(format!("table {name}: {e}"))))?;
        tables.push((
            name,
            Arc::new(PostgresTable { inner: provider }) as Arc<dyn TableProvider>,
        ));
    }
    tracing::info!(schema = %options.schema, host = %options.host, tables = tables.len(), "mounted PostgreSQL schema");
    Ok(tables)
}

/// A remote table. Passes everything to `datafusion-table-providers`'
/// `SqlTable`, except a scan with no columns (`count(*)`), which it answers
/// with one column and drops it: `SqlTable` returns a column even then, and
/// DataFusion rejects the plan.
#[derive(Debug)]
struct PostgresTable {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for PostgresTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        match projection {
            Some(p) if p.is_empty() && !self.schema().fields().is_empty() => {
                let plan = self
                    .inner
                    .scan(state, Some(&vec![0]), filters, limit)
                    .await?;
                Ok(Arc::new(ProjectionExec::try_new(
                    Vec::<ProjectionExpr>::new(),
                    plan,
                )?))
            }
            _ => self.inner.scan(state, projection, filters, limit).await,
        }
    }
}
