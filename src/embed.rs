//! The embedding API: build an almasql [`Engine`] inside another service,
//! query it in-process, and optionally serve it over the Postgres protocol
//! from the host's own tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;

use almasql_engine::demo::{NoProgress, Progress};
use almasql_engine::{Config, EngineError, MaterializedViews, SchedulerHandle, Session};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::server::Server;

/// Errors of the embedding API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration, demo data or catalog could not be set up.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// DataFusion failed to plan or run a query.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    /// Arrow failed to process or print a batch.
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A table name given to the builder is not `schema.table` or `table`.
    #[error("invalid table name `{0}`: expected `schema.table` or `table`")]
    TableName(String),
    /// An I/O error: the server's listener, or the host's files.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::server::tls::TlsError),
    /// Password-less logins were asked for on a non-loopback address.
    #[error(
        "refusing to listen on {0} without authentication: declare [[users]] in the config (see `almasql password`) or listen on a loopback address"
    )]
    Unauthenticated(std::net::SocketAddr),
}

/// Result type of the embedding API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the builder takes its configuration from.
enum ConfigSource {
    File(PathBuf),
    Value(Box<Config>),
}

/// Builds an [`Engine`]; see [`Engine::builder`].
pub struct EngineBuilder {
    config: ConfigSource,
    data_dir: Option<PathBuf>,
    tables: Vec<(String, Arc<dyn TableProvider>)>,
    scalar_udfs: Vec<ScalarUDF>,
    aggregate_udfs: Vec<AggregateUDF>,
    progress: Arc<dyn Progress + Send>,
    scheduler: bool,
}

impl EngineBuilder {
    /// Reads the configuration from a TOML file (see the README).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = ConfigSource::File(path.into());
        self
    }

    /// Uses a configuration built in code.
    pub fn config(mut self, config: Config) -> Self {
        self.config = ConfigSource::Value(Box::new(config));
        self
    }

    /// Overrides the data directory of the configuration.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Adds a table of the host's own, as `schema.table` (the schema is
    /// created if needed) or `table` (in `public`).
    pub fn table(mut self, name: impl Into<String>, provider: Arc<dyn TableProvider>) -> Self {
        self.tables.push((name.into(), provider));
        self
    }

    /// Adds a scalar function of the host's own.
    pub fn scalar_udf(mut self, udf: ScalarUDF) -> Self {
        self.scalar_udfs.push(udf);
        self
    }

    /// Adds an aggregate function of the host's own.
    pub fn aggregate_udf(mut self, udaf: AggregateUDF) -> Self {
        self.aggregate_udfs.push(udaf);
        self
    }

    /// Reports demo-data generation progress (a progress bar in the CLI).
    pub fn progress(mut self, progress: Arc<dyn Progress + Send>) -> Self {
        self.progress = progress;
        self
    }

    /// Whether to refresh materialized views on their schedules inside the
    /// host's runtime (default: yes). The scheduler stops when the last
    /// clone of the [`Engine`] is dropped.
    pub fn scheduler(mut self, enabled: bool) -> Self {
        self.scheduler = enabled;
        self
    }

    /// Assembles the session: configuration, demo data (generated first if
    /// the configuration asks for it and it is missing), sources, domain
    /// functions, pg_catalog, then the host's tables and functions.
    pub async fn build(self) -> Result<Engine> {
        let mut config = match self.config {
            ConfigSource::File(path) => Config::from_file(&path)?,
            ConfigSource::Value(config) => *config,
        };
        if let Some(dir) = self.data_dir {
            config.data_dir = dir;
        }
        let ctx = almasql_engine::build_session(&config, self.progress).await?;
        for (name, provider) in self.tables {
            let (schema, table) = match name.split_once('.') {
                Some((s, t)) if !s.is_empty() && !t.is_empty() && !t.contains('.') => (s, t),
                None if !name.is_empty() => ("public", name.as_str()),
                _ => return Err(Error::TableName(name.clone())),
            };
            let catalog = ctx
                .catalog(&config.database)
                .expect("the session's default catalog exists");
            let schema_provider = match catalog.schema(schema) {
                Some(s) => s,
                None => {
                    let s: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
                    catalog.register_schema(schema, s.clone())?;
                    s
                }
            };
            schema_provider.register_table(table.to_string(), provider)?;
        }
        for udf in self.scalar_udfs {
            ctx.register_udf(udf);
        }
        for udaf in self.aggregate_udfs {
            ctx.register_udaf(udaf);
        }
        // Views may use the host's tables, so the persistent state opens last.
        let session = Session::open(ctx, &config).await?;
        let scheduler = self
            .scheduler
            .then(|| Arc::new(session.materialized().start_scheduler()));
        Ok(Engine {
            ctx: Arc::new(session.context().clone()),
            session,
            config,
            _scheduler: scheduler,
        })
    }
}

/// An almasql instance: the ALMA catalog, domain functions and the host's
/// own tables in one DataFusion session.
#[derive(Clone)]
pub struct Engine {
    ctx: Arc<SessionContext>,
    session: Session,
    config: Config,
    _scheduler: Option<Arc<SchedulerHandle>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder with the embedded default configuration (the demo dataset
    /// in `./almasql-data`).
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            config: ConfigSource::Value(Box::default()),
            data_dir: None,
            tables: vec![],
            scalar_udfs: vec![],
            aggregate_udfs: vec![],
            progress: Arc::new(NoProgress),
            scheduler: true,
        }
    }

    /// Plans `sql` (any statement DataFusion plans, plus `CREATE` /
    /// `REFRESH` / `DROP MATERIALIZED VIEW`, which run at once); stream the
    /// result with `execute_stream` or collect it.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        Ok(self.session.sql(sql).await?)
    }

    /// The materialized views.
    pub fn materialized_views(&self) -> &MaterializedViews {
        self.session.materialized()
    }

    /// The DataFusion session, for anything else.
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// The configuration the engine was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Serves the engine over the PostgreSQL wire protocol on a listener
    /// the host owns, in the host's runtime, until the handle is shut down.
    ///
    /// Uses the configuration's users, TLS and limits. Without users, logins
    /// need no password, which is only allowed on a loopback address.
    pub fn serve(&self, listener: TcpListener) -> Result<ServerHandle> {
        let local_addr = listener.local_addr()?;
        let server = Server::with_config(
            self.ctx.clone(),
            self.session.materialized().clone(),
            &self.config,
        )?;
        if server.is_password_less() {
            if !local_addr.ip().is_loopback() {
                return Err(Error::Unauthenticated(local_addr));
            }
            tracing::warn!(
                %local_addr,
                "no users configured: password-less logins, accepted on this loopback address only"
            );
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        Ok(ServerHandle {
            local_addr,
            stop: Some(stop),
            task,
        })
    }
}

/// A running server; [`ServerHandle::shutdown`] stops it gracefully.
/// Dropping the handle stops the server too.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets open ones finish (up to
    /// [`crate::server::SHUTDOWN_GRACE`]) and waits for the server to end.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| std::io::Error::other(format!("server task failed: {e}")))??;
        Ok(())
    }

    /// Waits until the server ends (after a shutdown, or on a listener error).
    pub async fn wait(mut self) -> Result<()> {
        (&mut self.task)
            .await
            .map_err(|e| std::io::Error::other(format!("server task failed: {e}")))??;
        Ok(())
    }
}
