//! Streaming `Execute` for the extended query protocol.
//!
//! pgwire 0.41's default `Execute` handling collects every row of a portal
//! into a `Vec` before sending any of them (`Portal::fetch`), so a client
//! that asks for all rows (`max_rows = 0`, what tokio-postgres, psycopg and
//! JDBC without a fetch size do) makes the server hold the whole result in
//! memory. [`StreamingExtendedHandler`] sends the rows of such a query to
//! the socket as the batches are produced, with the socket's back-pressure;
//! everything else (a row limit, statements that are not queries) goes the
//! default way, where memory is bounded by the row limit.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::pgwire;
use datafusion_postgres::{DfSessionService, Parser};
use futures::future::{Either, select};
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, send_query_response};
use pgwire::api::results::Response;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionHandle, DEFAULT_NAME, PgWireConnectionState,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::Execute;

type DfStatement = <DfSessionService as ExtendedQueryHandler>::Statement;

/// The extended-query handler of almasql: `DfSessionService` with
/// streaming `Execute`.
pub struct StreamingExtendedHandler {
    inner: Arc<DfSessionService>,
}

impl StreamingExtendedHandler {
    /// Wraps the session service.
    pub fn new(inner: Arc<DfSessionService>) -> Self {
        Self { inner }
    }
}

/// Whether a prepared statement is a query whose rows can be streamed.
fn is_row_query(portal: &Portal<DfStatement>) -> bool {
    matches!(
        &portal.statement.statement,
        (_, Some((Statement::Query(_), _)))
    )
}

#[async_trait]
impl ExtendedQueryHandler for StreamingExtendedHandler {
    type Statement = DfStatement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.inner.query_parser()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.inner.do_query(client, portal, max_rows).await
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let portal_name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let portal = match client.portal_store().get_portal(portal_name) {
            Some(Entry::Value(portal)) if message.max_rows == 0 && is_row_query(&portal) => portal,
            _ => return self._on_execute(client, message).await,
        };
        {
            let state = portal.state();
            let state = state.lock().await;
            if !matches!(*state, PortalExecutionState::Initial) {
                drop(state);
                return self._on_execute(client, message).await;
            }
        }
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let transaction_status = client.transaction_status();
        client.set_state(PgWireConnectionState::QueryInProgress);

        let cancel = match client.session_extensions().get::<Arc<ConnectionHandle>>() {
            Some(handle) => Some(handle.start_query().await),
            None => None,
        };
        let result = async {
            let response = self.inner.do_query(client, &portal, 0).await?;
            match response {
                Response::Query(rows) => send_query_response(client, rows, false).await,
                Response::EmptyQuery => {
                    client
                        .feed(PgWireBackendMessage::EmptyQueryResponse(
                            pgwire::messages::response::EmptyQueryResponse::new(),
                        ))
                        .await?;
                    Ok(())
                }
                Response::Error(e) => Err(PgWireError::UserError(e)),
                _ => Err(PgWireError::ApiError(
                    "a query statement did not answer with rows".into(),
                )),
            }
        };
        let result = match cancel {
            Some(cancel) => match select(Box::pin(result), cancel).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err(PgWireError::QueryCanceled),
            },
            None => result.await,
        };
        *portal.state().lock().await = PortalExecutionState::Finished;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(transaction_status);
        result
    }
}
