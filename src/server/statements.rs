//! The statements almasql runs itself on the simple-query protocol:
//! `CREATE` / `REFRESH` / `DROP MATERIALIZED VIEW`, which DataFusion's SQL
//! parser does not know. Everything else goes to `datafusion-postgres`.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use almasql_engine::{
    EngineError, MaterializedViews, MvStatement, parse_statement, split_statements,
};
use async_trait::async_trait;
use datafusion_postgres::pgwire;
use futures::channel::oneshot;
use futures::future::{Either, select};
use futures::{Sink, SinkExt};
use pgwire::api::copy::send_copy_out_response;
use pgwire::api::portal::Format;
use pgwire::api::query::{
    SimpleQueryHandler, send_execution_response, send_query_response, send_ready_for_query,
};
use pgwire::api::results::{Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};
use pgwire::messages::simplequery::Query;

use super::Shared;
use super::cancel::CancelSlot;
use super::plans;
use super::users::denied;

/// Simple-query handler: materialized-view statements here, the rest to
/// the user's `DfSessionService`; the whole of each query (planning and
/// sending rows) can be cancelled and is bounded by `statement_timeout`.
pub struct AlmaSimpleQuery {
    shared: Arc<Shared>,
    materialized: MaterializedViews,
}

/// The client's `SET statement_timeout`, as datafusion-postgres records it.
pub(crate) fn statement_timeout<C: ClientInfo + ?Sized>(client: &C) -> Option<Duration> {
    client
        .metadata()
        .get("statement_timeout_ms")
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// The error a query ends with when its `statement_timeout` expires.
pub(crate) fn timed_out() -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        "57014".to_string(),
        "canceling statement due to statement timeout".to_string(),
    )))
}

/// The connection's cancel slot ([`super::cancel`]).
fn cancel_slot<C: ClientInfo + ?Sized>(client: &C) -> Option<Arc<CancelSlot>> {
    client
        .session_extensions()
        .get::<Arc<CancelSlot>>()
        .map(|slot| (*slot).clone())
}

/// A statement is being parsed: a cancel from now on stops it.
pub(crate) fn cancel_from_parse<C: ClientInfo + ?Sized>(client: &C) {
    if let Some(slot) = cancel_slot(client) {
        slot.start_at_parse();
    }
}

/// The cancel receiver of the statement about to execute.
pub(crate) fn cancel_for_execute<C: ClientInfo + ?Sized>(
    client: &C,
) -> Option<oneshot::Receiver<()>> {
    cancel_slot(client).map(|slot| slot.for_execute())
}

/// The statement ended: later cancels wait for the next one.
pub(crate) fn cancel_finished<C: ClientInfo + ?Sized>(client: &C) {
    if let Some(slot) = cancel_slot(client) {
        slot.finish();
    }
}

/// Runs `work` until it ends, the client cancels it, or the timeout expires.
pub(crate) async fn cancellable<F, T>(
    cancel: Option<oneshot::Receiver<()>>,
    timeout: Option<Duration>,
    work: F,
) -> PgWireResult<T>
where
    F: std::future::Future<Output = PgWireResult<T>>,
{
    let work = Box::pin(work);
    let cancel = Box::pin(async move {
        match cancel {
            Some(rx) => {
                let _ = rx.await;
            }
            None => std::future::pending::<()>().await,
        }
    });
    let limit = Box::pin(async move {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending::<()>().await,
        }
    });
    match select(work, select(cancel, limit)).await {
        Either::Left((result, _)) => result,
        Either::Right((Either::Left(_), _)) => Err(PgWireError::QueryCanceled),
        Either::Right((Either::Right(_), _)) => Err(timed_out()),
    }
}

impl AlmaSimpleQuery {
    /// Wraps the user's session services, running materialized-view
    /// statements on `materialized`.
    pub(crate) fn new(shared: Arc<Shared>, materialized: MaterializedViews) -> Self {
        Self {
            shared,
            materialized,
        }
    }

    /// Sends the responses of one query; returns the transaction status.
    async fn send<C>(
        client: &mut C,
        responses: Vec<Response>,
        mut status: TransactionStatus,
    ) -> PgWireResult<TransactionStatus>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        for r in responses {
            match r {
                Response::EmptyQuery => {
                    client
                        .feed(PgWireBackendMessage::EmptyQueryResponse(
                            EmptyQueryResponse::new(),
                        ))
                        .await?;
                }
                Response::Query(results) => send_query_response(client, results, true).await?,
                Response::Execution(tag) => send_execution_response(client, tag).await?,
                Response::TransactionStart(tag) => {
                    send_execution_response(client, tag).await?;
                    // in a failed transaction only `ROLLBACK TO` answers
                    // this way (see `compat`): it ends the failure
                    status = match status {
                        TransactionStatus::Error => TransactionStatus::Transaction,
                        other => other.to_in_transaction_state(),
                    };
                }
                Response::TransactionEnd(tag) => {
                    send_execution_response(client, tag).await?;
                    status = status.to_idle_state();
                }
                Response::Error(e) => {
                    client
                        .feed(PgWireBackendMessage::ErrorResponse((*e).into()))
                        .await?;
                    status = status.to_error_state();
                }
                Response::CopyOut(result) => send_copy_out_response(client, result).await?,
                Response::CopyIn(_) | Response::CopyBoth(_) => {
                    return Err(denied("COPY FROM is not supported: almasql is read-only"));
                }
            }
        }
        Ok(status)
    }

    /// Runs one materialized-view statement.
    async fn run(&self, parsed: almasql_engine::Result<MvStatement>) -> PgWireResult<Response> {
        run_materialized(&self.materialized, parsed).await
    }
}

/// Runs one materialized-view statement.
pub(crate) async fn run_materialized(
    materialized: &MaterializedViews,
    parsed: almasql_engine::Result<MvStatement>,
) -> PgWireResult<Response> {
    let outcome = match parsed {
        Ok(statement) => materialized.execute(statement).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(outcome) => Ok(Response::Execution(Tag::new(outcome.tag))),
        Err(e) => {
            let code = match &e {
                EngineError::DataFusion(df) => crate::server::sqlstate::of_datafusion(df),
                other => sqlstate(other),
            };
            Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".to_string(),
                code.to_string(),
                e.to_string(),
            ))))
        }
    }
}

/// The SQLSTATE of an error from a materialized-view statement.
fn sqlstate(error: &EngineError) -> &'static str {
    match error {
        EngineError::Syntax { .. } => "42601",
        EngineError::MaterializedView { message, .. } => {
            if message.contains("does not exist") || message.contains("not found") {
                "42P01"
            } else if message.contains("already exists") {
                "42P07"
            } else {
                "55000"
            }
        }
        _ => "58000",
    }
}

#[async_trait]
impl SimpleQueryHandler for AlmaSimpleQuery {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let status = client.transaction_status();
        client.set_state(PgWireConnectionState::QueryInProgress);
        let pid = client.pid_and_secret_key().0;
        self.shared.sessions.query_started(pid, &query.query);
        let cancel = cancel_slot(client).map(|slot| slot.start());
        let timeout = statement_timeout(client);
        let text = query.query;
        let result = cancellable(cancel, timeout, async {
            if text.chars().all(|c| c == ';' || c.is_whitespace()) {
                return Self::send(client, vec![Response::EmptyQuery], status).await;
            }
            let responses = self.do_query(client, &text).await?;
            Self::send(client, responses, status).await
        })
        .await;
        self.shared.sessions.query_finished(pid);
        cancel_finished(client);
        let status = result?;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        send_ready_for_query(client, status).await?;
        Ok(())
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.shared.users.connection(client)?;
        let key = plans::parse_key(&conn, query, &[]);
        let plan_path = self.shared.plans.is_enabled()
            && client.transaction_status() != TransactionStatus::Error;
        let cached = if plan_path {
            plans::parsed(&self.shared.plans, &conn, &key).await
        } else {
            None
        };
        let rewritten = match cached {
            Some(_) => None,
            None => almasql_engine::pg_compat::rewrite::rewrite_sql(query, &[]),
        };
        let query = rewritten.as_deref().unwrap_or(query);
        let statements = match cached {
            Some(_) => vec![],
            None => split_statements(query),
        };
        let mut entry = cached;
        if entry.is_none()
            && plan_path
            && statements.len() == 1
            && parse_statement(&statements[0]).is_none()
        {
            // one statement, not ours: parsed here so that a query is
            // planned once and kept
            if let Ok(parsed) = conn.parser().parse_sql(client, query, &[]).await
                && let Some((_, Some((statement, _)))) = &parsed
            {
                if plans::takes_plan_path(&self.shared.plans, client, statement) {
                    entry = plans::keep_parsed(&self.shared.plans, &conn, key, &parsed).await;
                } else {
                    let changes = plans::may_change_settings(statement);
                    let responses = conn.service.do_query(client, query).await;
                    conn.forget_state();
                    if changes && responses.is_ok() {
                        conn.settings_changed();
                    }
                    return responses;
                }
            }
        }
        if let Some(entry) = entry {
            let rows = plans::run_query(&conn, client, &entry, None, &Format::UnifiedText).await?;
            return Ok(vec![Response::Query(rows)]);
        }
        if statements.iter().all(|s| parse_statement(s).is_none()) {
            // several statements, or one that did not parse here: a
            // `SET` among them may have changed the settings
            let responses = conn.service.do_query(client, query).await;
            conn.forget_state();
            if responses.is_ok() {
                conn.settings_changed();
            }
            return responses;
        }
        let service = conn.service.clone();
        conn.settings_changed();
        if !self.shared.users.is_admin(client) {
            return Err(denied(
                "permission denied: only admin users may create, refresh or drop materialized views",
            ));
        }
        // A script mixing ours and DataFusion's statements: run them in
        // order and stop at the first error.
        let mut responses = vec![];
        for statement in &statements {
            match parse_statement(statement) {
                None => responses.extend(service.do_query(client, statement).await?),
                Some(parsed) => responses.push(self.run(parsed).await?),
            }
        }
        Ok(responses)
    }
}
