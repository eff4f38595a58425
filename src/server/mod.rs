//! The PostgreSQL wire-protocol server.
//!
//! Query handling (simple and extended protocol, pg_catalog rewrites,
//! `SET`/`SHOW`, transactions, cursors, Arrow → Postgres encoding) comes from
//! `datafusion-postgres`; this module adds what almasql needs around it:
//! SQLSTATE codes for errors ([`sqlstate`]), streaming `Execute`, cancel,
//! graceful shutdown and a listener the caller owns.

mod cancel;
mod coalesce;
mod compat;
mod cursors;
mod plans;
pub mod sessions;
pub mod sqlstate;
mod startup;
mod statements;
mod streaming;
mod text;
pub mod tls;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use almasql_engine::plan_cache::PlanCache;
use almasql_engine::{Config, MaterializedViews};
use datafusion::prelude::SessionContext;
use datafusion_postgres::pgwire;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{
    ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers, RandomPidSecretKeyGenerator,
};
use pgwire::error::PgWireError;
use pgwire::tokio::TlsAcceptor;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use cancel::{AlmaCancel, CancelRegistry};
use sessions::{SessionRegistry, SessionsTable};
use startup::AlmaStartup;
use statements::AlmaSimpleQuery;
use streaming::StreamingExtendedHandler;
use users::Users;

/// How long in-flight connections may run after shutdown was asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Accepts connections and hands them to pgwire with almasql's handlers.
#[derive(Clone)]
pub struct Server {
    handlers: Arc<AlmaHandlers>,
    tls: Option<TlsAcceptor>,
}

impl Server {
    /// A server answering queries against `ctx`, running the
    /// materialized-view statements on `materialized`, with password-less
    /// logins, no TLS and the default limits.
    pub fn new(ctx: Arc<SessionContext>, materialized: MaterializedViews) -> Self {
        Self::with_config(ctx, materialized, &Config::default())
            .expect("the default configuration has no TLS files to load")
    }

    /// A server with the users, TLS and limits of `config`.
    pub fn with_config(
        ctx: Arc<SessionContext>,
        materialized: MaterializedViews,
        config: &Config,
    ) -> Result<Self, tls::TlsError> {
        let tls = match &config.tls {
            Some(t) => Some(tls::acceptor(&t.cert, &t.key)?),
            None => None,
        };
        let sessions = Arc::new(SessionRegistry::default());
        register_sessions_table(&ctx, &sessions);
        let users = Users::new(ctx.clone(), &config.database, &config.users);
        let shared = Arc::new(Shared {
            users,
            connections: Arc::new(ConnectionManager::new()),
            cancels: Arc::new(CancelRegistry::default()),
            pids: RandomPidSecretKeyGenerator::default(),
            sessions,
            tls_required: config.tls.as_ref().is_some_and(|t| t.required),
            max_connections: config.limits.max_connections,
            plans: PlanCache::new(config.limits.plan_cache),
        });
        Ok(Self {
            handlers: Arc::new(AlmaHandlers::new(shared, materialized)),
            tls,
        })
    }

    /// Whether logins need no password (no users are configured).
    pub fn is_password_less(&self) -> bool {
        self.handlers.shared.users.is_trust()
    }

    /// Serves connections from `listener` until `shutdown` completes, then
    /// stops accepting and gives open connections [`SHUTDOWN_GRACE`] to end.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((socket, peer)) => {
                        let _ = socket.set_nodelay(true);
                        let handlers = self.handlers.clone();
                        let tls = self.tls.clone();
                        connections.spawn(async move {
                            tracing::debug!(%peer, "connection opened");
                            if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                                tracing::debug!(%peer, error = %e, "connection ended with an error");
                            }
                            tracing::debug!(%peer, "connection closed");
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        let open = connections.len();
        if open > 0 {
            tracing::info!(open, "waiting for open connections to finish");
            let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
                while connections.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::info!(
                    left = connections.len(),
                    "closing the remaining connections"
                );
                connections.shutdown().await;
            }
        }
        Ok(())
    }
}

/// Binds `addr` and serves until `shutdown` completes, with password-less
/// logins; see [`Server::serve`].
pub async fn serve(
    ctx: Arc<SessionContext>,
    materialized: MaterializedViews,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    Server::new(ctx, materialized)
        .serve(listener, shutdown)
        .await
}

/// `almasql.sessions` in the server's catalog.
fn register_sessions_table(ctx: &SessionContext, sessions: &Arc<SessionRegistry>) {
    let table = Arc::new(SessionsTable::new(sessions.clone()));
    if let Err(e) = ctx.register_table("almasql.sessions", table) {
        tracing::warn!(error = %e, "cannot register almasql.sessions");
    }
}

/// What every connection of a server shares.
pub(crate) struct Shared {
    users: Users,
    connections: Arc<ConnectionManager>,
    /// The cancel slots of the connections ([`cancel`]).
    cancels: Arc<CancelRegistry>,
    pids: RandomPidSecretKeyGenerator,
    sessions: Arc<SessionRegistry>,
    tls_required: bool,
    max_connections: usize,
    /// Statement plans, shared by all connections ([`plans`]).
    plans: PlanCache,
}

/// The pgwire handlers of almasql.
struct AlmaHandlers {
    shared: Arc<Shared>,
    simple: Arc<AlmaSimpleQuery>,
    extended: Arc<StreamingExtendedHandler>,
    cancel: Arc<AlmaCancel>,
    errors: Arc<SqlStateErrors>,
}

impl AlmaHandlers {
    fn new(shared: Arc<Shared>, materialized: MaterializedViews) -> Self {
        Self {
            extended: Arc::new(StreamingExtendedHandler::new(
                shared.clone(),
                materialized.clone(),
            )),
            simple: Arc::new(AlmaSimpleQuery::new(shared.clone(), materialized)),
            cancel: Arc::new(AlmaCancel {
                registry: shared.cancels.clone(),
                connections: shared.connections.clone(),
            }),
            errors: Arc::new(SqlStateErrors),
            shared,
        }
    }
}

impl PgWireServerHandlers for AlmaHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.simple.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.extended.clone()
    }

    /// A fresh handler per connection: it holds that connection's login state.
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(AlmaStartup::new(self.shared.clone()))
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        self.errors.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}

/// Gives every error its SQLSTATE before it is sent, and logs it.
struct SqlStateErrors;

impl ErrorHandler for SqlStateErrors {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        sqlstate::classify(error);
        tracing::debug!(error = %error, "query failed");
    }
}
