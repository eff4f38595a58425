//! The PostgreSQL wire-protocol server.
//!
//! Query handling (simple and extended protocol, pg_catalog rewrites,
//! `SET`/`SHOW`, transactions, cursors, Arrow → Postgres encoding) comes from
//! `datafusion-postgres`; this module adds what almasql needs around it:
//! SQLSTATE codes for errors ([`sqlstate`]), streaming `Execute`, cancel,
//! graceful shutdown and a listener the caller owns.

pub mod sqlstate;
mod statements;
mod streaming;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use almasql_engine::MaterializedViews;
use datafusion::prelude::SessionContext;
use datafusion_postgres::DfSessionService;
use datafusion_postgres::pgwire;
use pgwire::api::auth::StartupHandler;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers};
use pgwire::error::PgWireError;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use statements::AlmaSimpleQuery;
use streaming::StreamingExtendedHandler;

/// How long in-flight connections may run after shutdown was asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Accepts connections and hands them to pgwire with almasql's handlers.
#[derive(Clone)]
pub struct Server {
    handlers: Arc<AlmaHandlers>,
}

impl Server {
    /// A server answering queries against `ctx`, running the
    /// materialized-view statements on `materialized`.
    pub fn new(ctx: Arc<SessionContext>, materialized: MaterializedViews) -> Self {
        Self {
            handlers: Arc::new(AlmaHandlers::new(ctx, materialized)),
        }
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
                        connections.spawn(async move {
                            tracing::debug!(%peer, "connection opened");
                            if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
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

/// Binds `addr` and serves until `shutdown` completes; see [`Server::serve`].
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

/// The pgwire handlers of almasql.
struct AlmaHandlers {
    simple: Arc<AlmaSimpleQuery>,
    extended: Arc<StreamingExtendedHandler>,
    startup: Arc<AlmaStartup>,
    cancel: Arc<DefaultCancelHandler>,
    errors: Arc<SqlStateErrors>,
}

impl AlmaHandlers {
    fn new(ctx: Arc<SessionContext>, materialized: MaterializedViews) -> Self {
        let connections = Arc::new(ConnectionManager::new());
        let session_service = Arc::new(DfSessionService::new(ctx));
        Self {
            extended: Arc::new(StreamingExtendedHandler::new(session_service.clone())),
            simple: Arc::new(AlmaSimpleQuery::new(session_service, materialized)),
            startup: Arc::new(AlmaStartup {
                connections: connections.clone(),
            }),
            cancel: Arc::new(DefaultCancelHandler::new(connections)),
            errors: Arc::new(SqlStateErrors),
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

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        self.errors.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}

/// Start-up without authentication (authentication has its own issue):
/// registers the connection so that cancel requests can find it.
struct AlmaStartup {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for AlmaStartup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(self.connections.clone())
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
