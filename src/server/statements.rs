//! The statements almasql runs itself on the simple-query protocol:
//! `CREATE` / `REFRESH` / `DROP MATERIALIZED VIEW`, which DataFusion's SQL
//! parser does not know. Everything else goes to `datafusion-postgres`.

use std::fmt::Debug;
use std::sync::Arc;

use almasql_engine::{
    EngineError, MaterializedViews, MvStatement, parse_statement, split_statements,
};
use async_trait::async_trait;
use datafusion_postgres::DfSessionService;
use datafusion_postgres::pgwire;
use futures::Sink;
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;

/// Simple-query handler: materialized-view statements here, the rest to
/// [`DfSessionService`].
pub struct AlmaSimpleQuery {
    inner: Arc<DfSessionService>,
    materialized: MaterializedViews,
}

impl AlmaSimpleQuery {
    /// Wraps `inner`, running materialized-view statements on `materialized`.
    pub fn new(inner: Arc<DfSessionService>, materialized: MaterializedViews) -> Self {
        Self {
            inner,
            materialized,
        }
    }

    /// Runs one materialized-view statement.
    async fn run(&self, parsed: almasql_engine::Result<MvStatement>) -> PgWireResult<Response> {
        let outcome = match parsed {
            Ok(statement) => self.materialized.execute(statement).await,
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
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = split_statements(query);
        if statements.iter().all(|s| parse_statement(s).is_none()) {
            return self.inner.do_query(client, query).await;
        }
        // A script mixing ours and DataFusion's statements: run them in
        // order and stop at the first error.
        let mut responses = vec![];
        for statement in &statements {
            match parse_statement(statement) {
                None => responses.extend(self.inner.do_query(client, statement).await?),
                Some(parsed) => responses.push(self.run(parsed).await?),
            }
        }
        Ok(responses)
    }
}
