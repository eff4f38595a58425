//! Streaming `Execute` for the extended query protocol.
//!
//! pgwire 0.41's default `Execute` handling collects every row of a portal
//! into a `Vec` before sending any of them (`Portal::fetch`), so a client
//! that asks for all rows (`max_rows = 0`, what tokio-postgres, psycopg and
//! JDBC without a fetch size do) makes the server hold the whole result in
//! memory. [`StreamingExtendedHandler`] sends the rows of such a query to
//! the socket as the batches are produced, with the socket's back-pressure;
//! everything else (a row limit, statements that are not queries) goes the
//! default way, where memory is bounded by the row limit. Answers to
//! `Parse`, `Bind` and `Describe` wait for `Sync` or `Flush`
//! ([`super::coalesce`]).

use std::fmt::Debug;
use std::sync::Arc;

use almasql_engine::{MaterializedViews, parse_statement};
use async_trait::async_trait;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::Parser;
use datafusion_postgres::pgwire;
use futures::{Sink, SinkExt};
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, send_query_response};
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{Bind, Describe, Execute, Parse};
use pgwire::messages::response::TransactionStatus;
use plans::DfStatement;

use super::Shared;
use super::coalesce;
use super::cursors;
use super::plans;
use super::statements::{
    cancel_finished, cancel_for_execute, cancel_from_parse, cancellable, run_materialized,
    statement_timeout,
};
use super::users::denied;

/// The extended-query handler of almasql: the user's `DfSessionService`
/// with streaming `Execute`, cancel and `statement_timeout` over the whole
/// execution, and the materialized-view statements.
pub struct StreamingExtendedHandler {
    shared: Arc<Shared>,
    parser: Arc<AlmaParser>,
    materialized: MaterializedViews,
}

impl StreamingExtendedHandler {
    /// A handler for the users of `shared`.
    pub(crate) fn new(shared: Arc<Shared>, materialized: MaterializedViews) -> Self {
        Self {
            parser: Arc::new(AlmaParser {
                shared: shared.clone(),
            }),
            shared,
            materialized,
        }
    }
}

/// Parses with the session of the client's user; a materialized-view
/// statement is kept as text, without a plan, and run at `Execute`.
pub struct AlmaParser {
    shared: Arc<Shared>,
}

#[async_trait]
impl QueryParser for AlmaParser {
    type Statement = DfStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if parse_statement(sql).is_some() {
            return Ok(Some((sql.to_string(), None)));
        }
        cancel_from_parse(client);
        let conn = self.shared.users.connection(client)?;
        let key = plans::parse_key(&conn, sql, types);
        if self.shared.plans.is_enabled()
            && let Some(found) = plans::parsed(&self.shared.plans, &conn, &key).await
        {
            return Ok(Some(plans::as_statement(&found)));
        }
        let parser: Arc<Parser> = conn.service.query_parser();
        let declared: Vec<Option<&str>> = types.iter().map(declared_type).collect();
        let parsed = match almasql_engine::pg_compat::rewrite::rewrite_sql(sql, &declared) {
            Some(rewritten) => parser.parse_sql(client, &rewritten, types).await?,
            None => parser.parse_sql(client, sql, types).await?,
        };
        plans::keep_parsed(&self.shared.plans, &conn, key, &parsed).await;
        Ok(parsed)
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.shared.users.parser().get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        if cursors::is_cursor_statement(stmt) {
            // no rows of its own; a FETCH is described by its cursor
            return Ok(vec![]);
        }
        self.shared
            .users
            .parser()
            .get_result_schema(stmt, column_format)
    }
}

/// The SQL type a placeholder is cast to for the type a client declared in
/// `Parse`; text and unknown types are left to DataFusion's inference.
fn declared_type(declared: &Option<Type>) -> Option<&'static str> {
    Some(match *declared.as_ref()? {
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::BOOL => "boolean",
        Type::DATE => "date",
        Type::TIMESTAMP => "timestamp",
        Type::TIMESTAMPTZ => "timestamptz",
        Type::BYTEA => "bytea",
        _ => return None,
    })
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
    type QueryParser = AlmaParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        coalesce::on_parse(self, client, message).await
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        coalesce::on_bind(client, message).await
    }

    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(fields) = cursors::described_fields(client, &message) {
            return coalesce::send_described(client, message.target_type, fields?).await;
        }
        coalesce::on_describe(self, client, message).await
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
        if portal.statement.statement.1.is_none()
            && let Some(parsed) = parse_statement(&portal.statement.statement.0)
        {
            if !self.shared.users.is_admin(client) {
                return Err(denied(
                    "permission denied: only admin users may create, refresh or drop materialized views",
                ));
            }
            return run_materialized(&self.materialized, parsed).await;
        }
        if let (
            _,
            Some((
                Statement::Fetch {
                    name, direction, ..
                },
                _,
            )),
        ) = &portal.statement.statement
            && client.transaction_status() != TransactionStatus::Error
        {
            // rows in the format this portal asks for
            let format = Some(&portal.result_column_format);
            return cursors::fetch(client, &name.value, direction, format).await;
        }
        let conn = self.shared.users.connection(client)?;
        if let (text, Some((statement, plan))) = &portal.statement.statement
            && plans::takes_plan_path(&self.shared.plans, client, statement)
        {
            let entry = plans::entry_for(&self.shared.plans, &conn, text, statement, plan).await;
            let format = &portal.result_column_format;
            let rows = plans::run_query(&conn, client, &entry, Some(portal), format).await?;
            return Ok(Response::Query(rows));
        }
        let result = conn.service.do_query(client, portal, max_rows).await;
        conn.forget_state();
        if let (_, Some((statement, _))) = &portal.statement.statement
            && plans::may_change_settings(statement)
        {
            conn.settings_changed();
        }
        result
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

        let cancel = cancel_for_execute(client);
        let pid = client.pid_and_secret_key().0;
        self.shared
            .sessions
            .query_started(pid, &portal.statement.statement.0);
        let timeout = statement_timeout(client);
        let result = async {
            let response = self.do_query(client, &portal, 0).await?;
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
        let result = cancellable(cancel, timeout, result).await;
        self.shared.sessions.query_finished(pid);
        cancel_finished(client);
        *portal.state().lock().await = PortalExecutionState::Finished;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(transaction_status);
        result
    }
}
