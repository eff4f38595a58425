//! Answers to `Parse`, `Bind` and `Describe` without a flush each.
//!
//! pgwire 0.41's default handlers `send` (write and flush) `ParseComplete`,
//! `BindComplete` and the answer to `Describe`, so one statement on the
//! extended protocol (Parse, Bind, Describe, Execute, Sync: what pgbench
//! `-M extended`, psycopg and JDBC send) cost four `sendto` calls, four TCP
//! segments and four wake-ups of the client. PostgreSQL writes its answers
//! into its output buffer and flushes at `Sync` and `Flush` (or when the
//! buffer is full); these handlers do the same: the answers are fed into
//! the connection's buffer, which pgwire's `Sync` and `Flush` handlers
//! flush. They are pgwire's defaults with `feed` for `send`.

use std::fmt::Debug;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion_postgres::pgwire;
use futures::{Sink, SinkExt};
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, send_describe_response};
use pgwire::api::results::{
    DescribePortalResponse, DescribeResponse, DescribeStatementResponse, FieldInfo,
};
use pgwire::api::stmt::StoredStatement;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Describe, Parse, ParseComplete, TARGET_TYPE_BYTE_PORTAL,
    TARGET_TYPE_BYTE_STATEMENT,
};

/// `Parse`: the statement is parsed and kept; `ParseComplete` is buffered.
pub(crate) async fn on_parse<H, C>(handler: &H, client: &mut C, message: Parse) -> PgWireResult<()>
where
    H: ExtendedQueryHandler + ?Sized,
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = H::Statement>,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let name = message.name.as_deref().unwrap_or(DEFAULT_NAME).to_owned();
    match StoredStatement::parse(client, &message, handler.query_parser()).await? {
        Some(statement) => client.portal_store().put_statement(Arc::new(statement)),
        None => client.portal_store().put_empty_statement(&name),
    }
    client
        .feed(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
        .await?;
    Ok(())
}

/// `Bind`: the portal is kept; `BindComplete` is buffered.
pub(crate) async fn on_bind<S, C>(client: &mut C, message: Bind) -> PgWireResult<()>
where
    S: Clone + Send + Sync + 'static,
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = S>,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
    let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
    match client.portal_store().get_statement(statement_name) {
        Some(Entry::Value(statement)) => {
            let portal = Portal::try_new(&message, statement)?;
            client.portal_store().put_portal(Arc::new(portal));
        }
        Some(Entry::Empty) => {
            if !message.parameters.is_empty() {
                return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".to_owned(),
                    "08P01".to_owned(),
                    format!(
                        "bind message supplies {} parameters, but prepared statement {:?} requires 0",
                        message.parameters.len(),
                        statement_name
                    ),
                ))));
            }
            client.portal_store().put_empty_portal(portal_name);
        }
        None => return Err(PgWireError::StatementNotFound(statement_name.to_owned())),
    }
    client
        .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
        .await?;
    Ok(())
}

/// `Describe` of a statement or portal: the answer is buffered.
pub(crate) async fn on_describe<H, C>(
    handler: &H,
    client: &mut C,
    message: Describe,
) -> PgWireResult<()>
where
    H: ExtendedQueryHandler + ?Sized,
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = H::Statement>,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
    match message.target_type {
        TARGET_TYPE_BYTE_STATEMENT => match client.portal_store().get_statement(name) {
            Some(Entry::Value(statement)) => {
                let described = handler.do_describe_statement(client, &statement).await?;
                send_describe_response(&mut Buffered(client), &described).await
            }
            Some(Entry::Empty) => {
                let described = DescribeStatementResponse::no_data();
                send_describe_response(&mut Buffered(client), &described).await
            }
            None => Err(PgWireError::StatementNotFound(name.to_owned())),
        },
        TARGET_TYPE_BYTE_PORTAL => match client.portal_store().get_portal(name) {
            Some(Entry::Value(portal)) => {
                let described = handler.do_describe_portal(client, &portal).await?;
                send_describe_response(&mut Buffered(client), &described).await
            }
            Some(Entry::Empty) => {
                let described = DescribePortalResponse::no_data();
                send_describe_response(&mut Buffered(client), &described).await
            }
            None => Err(PgWireError::PortalNotFound(name.to_owned())),
        },
        other => Err(PgWireError::InvalidTargetType(other)),
    }
}

/// Buffers the answer to a `Describe` of `target_type` whose rows have
/// `fields` (a statement's has no parameters).
pub(crate) async fn send_described<C>(
    client: &mut C,
    target_type: u8,
    fields: Vec<FieldInfo>,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    if target_type == TARGET_TYPE_BYTE_STATEMENT {
        let described = DescribeStatementResponse::new(vec![], fields);
        send_describe_response(&mut Buffered(client), &described).await
    } else {
        let described = DescribePortalResponse::new(fields);
        send_describe_response(&mut Buffered(client), &described).await
    }
}

/// A sink whose flush leaves the messages in the connection's buffer, for
/// pgwire's helpers that `send` (write and flush) each message.
struct Buffered<'a, C>(&'a mut C);

impl<C, M> Sink<M> for Buffered<'_, C>
where
    C: Sink<M> + Unpin,
{
    type Error = C::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        Pin::new(&mut *self.0).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: M) -> Result<(), C::Error> {
        Pin::new(&mut *self.0).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        // flushed at Sync or Flush, as PostgreSQL does
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        Pin::new(&mut *self.0).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that records what it was sent and how often it was flushed.
    #[derive(Default)]
    struct Recorder {
        sent: Vec<u32>,
        flushes: usize,
    }

    impl Sink<u32> for Recorder {
        type Error = std::convert::Infallible;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn start_send(mut self: Pin<&mut Self>, item: u32) -> Result<(), Self::Error> {
            self.sent.push(item);
            Ok(())
        }

        fn poll_flush(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn buffered_passes_messages_on_without_flushing() {
        let mut inner = Recorder::default();
        let mut buffered = Buffered(&mut inner);
        buffered.send(1).await.unwrap();
        buffered.send(2).await.unwrap();
        assert_eq!(inner.sent, [1, 2]);
        assert_eq!(inner.flushes, 0);
        inner.send(3).await.unwrap();
        assert_eq!(inner.flushes, 1);
    }
}
