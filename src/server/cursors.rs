//! Server-side cursors: `DECLARE ... CURSOR`, `FETCH` and `CLOSE`, as
//! psql users type them and as psycopg's named cursors, SQLAlchemy's
//! `stream_results` and psqlODBC's `UseDeclareFetch` send them.
//!
//! [`CursorHook`] takes the place of datafusion-postgres's cursor hook,
//! which psycopg cannot use: a `DECLARE` sent on the extended protocol lost
//! its parameter values (its plan was an empty relation with none), and
//! the cursor's portal described itself as having no columns, so psycopg
//! had no row description for the rows `FETCH` sent (it crashed on them).
//!
//! A cursor is kept in its connection's session extensions with the
//! query's record batch stream: each `FETCH n` pulls `n` rows from it and
//! encodes them in the result format the `FETCH` asks for (text, or binary
//! as tokio-postgres and pgjdbc ask), so a cursor over any number of rows
//! holds a batch or so at a time. `Describe` of the cursor's name as a
//! portal (psycopg describes it after `DECLARE`), and of a `FETCH`
//! statement or portal, answers the cursor's columns
//! ([`described_fields`]). Cursors scan forward only (`SCROLL` is refused
//! with 0A000, a backward `FETCH` with 55000, as PostgreSQL refuses it on
//! a `NO SCROLL` cursor); those declared `WITHOUT HOLD` (the default)
//! close when the transaction ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    CloseCursor, Declare, DeclareType, FetchDirection, Statement, Value,
};
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire;
use futures::{StreamExt, stream};
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldInfo, Response, Tag};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::extendedquery::{
    Describe, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::types::format::FormatOptions;

use super::plans::{self, DfStatement as Prepared};
use super::sqlstate::{FEATURE_NOT_SUPPORTED, SYNTAX_ERROR};

/// SQLSTATE 34000: no cursor of that name.
const INVALID_CURSOR_NAME: &str = "34000";
/// SQLSTATE 42P03: a cursor of that name is open already.
const DUPLICATE_CURSOR: &str = "42P03";
/// SQLSTATE 55000: a backward `FETCH` on a forward-only cursor.
const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";

/// The hook running `DECLARE`, `FETCH` and `CLOSE`, and closing the
/// cursors of a transaction at its `COMMIT` or `ROLLBACK`.
#[derive(Debug, Default)]
pub struct CursorHook;

/// The open cursors of a connection, by name.
#[derive(Default)]
struct OpenCursors(Mutex<HashMap<String, Arc<Cursor>>>);

/// An open cursor: its query's rows, not yet fetched.
struct Cursor {
    schema: SchemaRef,
    /// `DECLARE ... BINARY`: binary rows for a `FETCH` that asks for none.
    binary: bool,
    /// `WITH HOLD`: open past the end of its transaction.
    hold: bool,
    rows: tokio::sync::Mutex<Rows>,
}

struct Rows {
    /// `None` once the query has no more rows.
    stream: Option<SendableRecordBatchStream>,
    /// The rest of a batch a `FETCH` took part of.
    pending: Option<RecordBatch>,
}

impl Cursor {
    /// The format of the rows of a `FETCH` whose portal asks for `asked`
    /// (`None`: the simple protocol, which has no say).
    fn format(&self, asked: Option<&Format>) -> Format {
        match asked {
            Some(format) => format.clone(),
            None if self.binary => Format::UnifiedBinary,
            None => Format::UnifiedText,
        }
    }

    fn fields(&self, format: &Format) -> PgWireResult<Vec<FieldInfo>> {
        arrow_schema_to_pg_fields(&self.schema, format, None)
    }

    /// The next `count` rows (`None`: all that are left).
    async fn next(&self, count: Option<usize>) -> PgWireResult<Vec<RecordBatch>> {
        let mut rows = self.rows.lock().await;
        let mut taken = vec![];
        let mut left = count.unwrap_or(usize::MAX);
        while left > 0 {
            let batch = match rows.pending.take() {
                Some(batch) => batch,
                None => match rows.stream.as_mut() {
                    None => break,
                    Some(stream) => match stream.next().await {
                        Some(batch) => batch.map_err(api)?,
                        None => {
                            rows.stream = None;
                            break;
                        }
                    },
                },
            };
            if batch.num_rows() > left {
                rows.pending = Some(batch.slice(left, batch.num_rows() - left));
                taken.push(batch.slice(0, left));
                break;
            }
            left -= batch.num_rows();
            taken.push(batch);
        }
        Ok(taken)
    }
}

fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message.into(),
    )))
}

fn api(e: datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// The plan of a statement that is not a query (`FETCH`, `CLOSE`).
fn no_rows() -> LogicalPlan {
    LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(DFSchema::empty()),
    })
}

/// The one cursor a `DECLARE` declares, checked as PostgreSQL checks it.
fn cursor_of(stmts: &[Declare]) -> PgWireResult<(&Declare, String)> {
    let [declare] = stmts else {
        return Err(error(SYNTAX_ERROR, "DECLARE declares one cursor"));
    };
    if declare.declare_type != Some(DeclareType::Cursor) || declare.for_query.is_none() {
        return Err(error(SYNTAX_ERROR, "DECLARE needs CURSOR FOR a query"));
    }
    if declare.scroll == Some(true) {
        return Err(error(
            FEATURE_NOT_SUPPORTED,
            "SCROLL cursors are not supported: almasql cursors scan forward only",
        ));
    }
    let name = declare
        .names
        .first()
        .map(|n| n.value.clone())
        .ok_or_else(|| error(SYNTAX_ERROR, "cursor name is required"))?;
    Ok((declare, name))
}

/// The plan of the query of a `DECLARE`, with its placeholders.
async fn plan_declared(stmts: &[Declare], ctx: &SessionContext) -> PgWireResult<LogicalPlan> {
    let (declare, _) = cursor_of(stmts)?;
    let query = declare.for_query.clone().expect("checked by cursor_of");
    ctx.state()
        .statement_to_plan(DfStatement::Statement(Box::new(Statement::Query(query))))
        .await
        .map_err(api)
}

/// Opens the cursor `stmts` declare over `plan` (its parameters bound).
async fn declare(
    stmts: &[Declare],
    plan: LogicalPlan,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    let (declare, name) = cursor_of(stmts)?;
    let open = open_cursors(client);
    if open.0.lock().expect("lock").contains_key(&name) {
        return Err(error(
            DUPLICATE_CURSOR,
            format!("cursor \"{name}\" already exists"),
        ));
    }
    let frame = ctx.execute_logical_plan(plan).await.map_err(api)?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let stream = frame.execute_stream().await.map_err(api)?;
    let cursor = Cursor {
        schema,
        binary: declare.binary == Some(true),
        hold: declare.hold == Some(true),
        rows: tokio::sync::Mutex::new(Rows {
            stream: Some(stream),
            pending: None,
        }),
    };
    open.0.lock().expect("lock").insert(name, Arc::new(cursor));
    Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
}

fn open_cursors<C: ClientInfo + ?Sized>(client: &C) -> Arc<OpenCursors> {
    client
        .session_extensions()
        .get_or_insert_with(OpenCursors::default)
}

fn cursor<C: ClientInfo + ?Sized>(client: &C, name: &str) -> Option<Arc<Cursor>> {
    open_cursors(client)
        .0
        .lock()
        .expect("lock")
        .get(name)
        .cloned()
}

/// How many rows a `FETCH` asks for (`None`: all of them).
fn fetch_count(direction: &FetchDirection) -> PgWireResult<Option<usize>> {
    let count = |v: &Value| match v {
        Value::Number(n, _) => n.parse::<i64>().ok(),
        _ => None,
    };
    let backward = || {
        let mut info = ErrorInfo::new(
            "ERROR".to_string(),
            OBJECT_NOT_IN_PREREQUISITE_STATE.to_string(),
            "cursor can only scan forward".to_string(),
        );
        info.hint = Some("almasql cursors scan forward only: FETCH NEXT, n or ALL".into());
        PgWireResult::Err(PgWireError::UserError(Box::new(info)))
    };
    match direction {
        FetchDirection::Next | FetchDirection::Forward { limit: None } => Ok(Some(1)),
        FetchDirection::All | FetchDirection::ForwardAll => Ok(None),
        FetchDirection::Forward { limit: Some(v) } | FetchDirection::Count { limit: v } => {
            match count(&v.value) {
                Some(n) if n >= 0 => Ok(Some(n as usize)),
                Some(_) => backward(),
                None => Err(error(SYNTAX_ERROR, format!("bad FETCH count {}", v.value))),
            }
        }
        _ => backward(),
    }
}

fn no_such_cursor(name: &str) -> PgWireError {
    error(
        INVALID_CURSOR_NAME,
        format!("cursor \"{name}\" does not exist"),
    )
}

/// The next rows of the cursor `name`, in the format the `FETCH` portal
/// asks for (`None`: the simple protocol).
pub async fn fetch<C: ClientInfo + ?Sized>(
    client: &C,
    name: &str,
    direction: &FetchDirection,
    asked: Option<&Format>,
) -> PgWireResult<Response> {
    let count = fetch_count(direction)?;
    let cursor = cursor(client, name).ok_or_else(|| no_such_cursor(name))?;
    let batches = cursor.next(count).await?;
    let schema = cursor.schema.clone();
    let rows: SendableRecordBatchStream = Box::pin(RecordBatchStreamAdapter::new(
        schema.clone(),
        stream::iter(batches.into_iter().map(Ok)),
    ));
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let zone = plans::session_zone(client);
    let mut answer = plans::encode(&schema, rows, &cursor.format(asked), options, zone)?;
    answer.set_command_tag("FETCH");
    Ok(Response::Query(answer))
}

/// Closes the cursor `cursor` names, or all of them.
fn close(client: &dyn HookClient, cursor: &CloseCursor) -> PgWireResult<Response> {
    let open = open_cursors(client);
    let mut open = open.0.lock().expect("lock");
    match cursor {
        CloseCursor::All => open.clear(),
        CloseCursor::Specific { name } => {
            open.remove(&name.value)
                .ok_or_else(|| no_such_cursor(&name.value))?;
        }
    }
    Ok(Response::Execution(Tag::new("CLOSE CURSOR")))
}

/// Closes the cursors not declared `WITH HOLD`, as the end of a
/// transaction does.
fn end_transaction(client: &dyn HookClient) {
    let open = open_cursors(client);
    open.0.lock().expect("lock").retain(|_, cursor| cursor.hold);
}

/// Whether `statement` ends the transaction (not `ROLLBACK TO`).
fn ends_transaction(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Commit { .. }
            | Statement::Rollback {
                savepoint: None,
                ..
            }
    )
}

/// `FETCH` and `CLOSE`, and the end of a transaction closing its cursors,
/// alike on both protocols (an extended `FETCH` is run by the server's
/// handler, in the format its portal asks for; this answers text).
async fn fetch_close_or_end(
    statement: &Statement,
    client: &mut dyn HookClient,
) -> Option<PgWireResult<Response>> {
    match statement {
        Statement::Fetch {
            name, direction, ..
        } => Some(fetch(client, &name.value, direction, None).await),
        Statement::Close { cursor } => Some(close(client, cursor)),
        other => {
            if ends_transaction(other) {
                end_transaction(client);
            }
            None
        }
    }
}

#[async_trait]
impl QueryHook for CursorHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Some(match statement {
            Statement::Declare { stmts } => match plan_declared(stmts, ctx).await {
                Ok(plan) => declare(stmts, plan, ctx, client).await,
                Err(e) => Err(e),
            },
            other => return fetch_close_or_end(other, client).await,
        })
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        match statement {
            // the query's own plan: its placeholders are the statement's
            Statement::Declare { stmts } => Some(plan_declared(stmts, ctx).await),
            Statement::Fetch { .. } | Statement::Close { .. } => Some(Ok(no_rows())),
            _ => None,
        }
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Some(match statement {
            Statement::Declare { stmts } => match plan.clone().with_param_values(params.clone()) {
                Ok(plan) => declare(stmts, plan, ctx, client).await,
                Err(e) => Err(api(e)),
            },
            other => return fetch_close_or_end(other, client).await,
        })
    }
}

/// Whether the statement's result is described by a cursor rather than by
/// its plan: a `DECLARE`, `FETCH` or `CLOSE` (whose plans are the declared
/// query's or none).
pub fn is_cursor_statement(statement: &Prepared) -> bool {
    matches!(
        &statement.1,
        Some((
            Statement::Declare { .. } | Statement::Fetch { .. } | Statement::Close { .. },
            _
        ))
    )
}

/// The columns a `Describe` answers from a cursor: those of the cursor a
/// `FETCH` statement or portal reads, or of a cursor named as a portal
/// (psycopg describes it after `DECLARE`). `None`: not a cursor's,
/// described by its plan.
pub fn described_fields<C>(client: &C, message: &Describe) -> Option<PgWireResult<Vec<FieldInfo>>>
where
    C: ClientInfo + pgwire::api::ClientPortalStore + ?Sized,
    C::PortalStore: PortalStore<Statement = Prepared>,
{
    let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
    let store = client.portal_store();
    let (statement, format) = match message.target_type {
        TARGET_TYPE_BYTE_STATEMENT => match store.get_statement(name)? {
            Entry::Value(statement) => (statement, Format::UnifiedText),
            Entry::Empty => return None,
        },
        TARGET_TYPE_BYTE_PORTAL => match store.get_portal(name) {
            Some(Entry::Value(portal)) => (
                portal.statement.clone(),
                portal.result_column_format.clone(),
            ),
            Some(Entry::Empty) => return None,
            None => {
                let cursor = cursor(client, name)?;
                return Some(cursor.fields(&cursor.format(None)));
            }
        },
        _ => return None,
    };
    let Some((Statement::Fetch { name, .. }, _)) = &statement.statement.1 else {
        return None;
    };
    let cursor = cursor(client, &name.value)?;
    Some(cursor.fields(&format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0)
    }

    fn direction(sql: &str) -> FetchDirection {
        match parse(sql) {
            Statement::Fetch { direction, .. } => direction,
            other => panic!("not a FETCH: {other}"),
        }
    }

    fn code(e: PgWireError) -> String {
        match e {
            PgWireError::UserError(info) => info.code,
            other => panic!("not a user error: {other}"),
        }
    }

    #[test]
    fn fetch_counts_as_postgres_reads_them() {
        assert_eq!(
            fetch_count(&direction("fetch next from c")).unwrap(),
            Some(1)
        );
        assert_eq!(fetch_count(&direction("fetch 7 in c")).unwrap(), Some(7));
        assert_eq!(
            fetch_count(&direction("fetch forward 5000 from c")).unwrap(),
            Some(5000)
        );
        assert_eq!(fetch_count(&direction("fetch all from c")).unwrap(), None);
        assert_eq!(
            fetch_count(&direction("fetch forward all from c")).unwrap(),
            None
        );
        for backward in [
            "fetch prior from c",
            "fetch backward 2 from c",
            "fetch absolute 3 from c",
            "fetch relative 2 from c",
        ] {
            let e = fetch_count(&direction(backward)).unwrap_err();
            assert_eq!(code(e), OBJECT_NOT_IN_PREREQUISITE_STATE, "{backward}");
        }
    }

    #[test]
    fn declare_accepts_one_forward_cursor() {
        let stmts = |sql: &str| match parse(sql) {
            Statement::Declare { stmts } => stmts,
            other => panic!("not a DECLARE: {other}"),
        };
        let ok = stmts("declare \"c\" no scroll cursor with hold for select 1");
        let (declare, name) = cursor_of(&ok).unwrap();
        assert_eq!(name, "c");
        assert_eq!(declare.hold, Some(true));
        let scroll = stmts("declare c scroll cursor for select 1");
        assert_eq!(code(cursor_of(&scroll).unwrap_err()), FEATURE_NOT_SUPPORTED);
    }

    #[test]
    fn transactions_end_at_commit_and_rollback_not_at_rollback_to() {
        assert!(ends_transaction(&parse("commit")));
        assert!(ends_transaction(&parse("rollback")));
        assert!(!ends_transaction(&parse("rollback to savepoint s")));
        assert!(!ends_transaction(&parse("begin")));
    }
}
