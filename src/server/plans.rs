//! Plan once, execute many.
//!
//! datafusion-postgres plans a prepared statement at `Parse` and then, at
//! every `Execute`, binds the parameters, optimizes, and optimizes again
//! inside `DataFrame::execute_stream`; on the simple protocol it parses
//! every statement twice and plans it from scratch. A dashboard wall is the
//! same few statements thousands of times, so almasql answers queries
//! (`SELECT`, `WITH`, `VALUES`) itself, over the server's
//! [`PlanCache`]:
//!
//! - `Parse` of a text seen before (same user, settings and declared
//!   parameter types) takes its parsed statement and plan from the cache;
//! - `Execute` and a simple query take the optimized plan from the cache
//!   (optimized once per plan), substitute the parameters, simplify, and
//!   make the physical plan without optimizing again.
//!
//! Everything else (`SET`, transactions, cursors, DDL, a failed
//! transaction's statements) goes to datafusion-postgres as before. This
//! lives in our handler layer because datafusion-postgres keeps its
//! parameter handling private and has no hook to keep an optimized plan;
//! the two helpers copied from it are marked.

use std::collections::HashMap;
use std::sync::Arc;

use almasql_engine::pg_compat::datetime::TimeType;
use almasql_engine::pg_compat::text_out::Zone;
use almasql_engine::pg_compat::{self, datetime};
use almasql_engine::plan_cache::{self, CachedPlan, PlanCache, PlanKey};
use bytes::Bytes;
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use datafusion_postgres::arrow_pg::datatypes::{
    PG_OID_ALIAS_KEY, arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type,
    pg_type_for_alias_kind,
};
use datafusion_postgres::pgwire;
use futures::{StreamExt, stream};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::results::QueryResponse;
use pgwire::api::{ClientInfo, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::response::TransactionStatus;
use pgwire::types::format::FormatOptions;

use super::text::pg_text_columns;
use super::users::{Connection, Snapshot};

/// A prepared statement as datafusion-postgres stores it: the statement's
/// text and, for statements that have one, the parsed statement and plan.
pub type DfStatement = (String, Option<(Statement, LogicalPlan)>);

fn api(e: DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// The key of a `Parse` of `sql` with the declared parameter `types`.
pub(crate) fn parse_key(conn: &Connection, sql: &str, types: &[Option<Type>]) -> PlanKey {
    let mut scope = format!("P|{}|", conn.plan_scope());
    for t in types {
        match t {
            Some(t) => scope.push_str(&t.oid().to_string()),
            None => scope.push('-'),
        }
        scope.push(',');
    }
    PlanKey::new(scope, sql)
}

/// The key of a statement's plan by its text.
fn text_key(conn: &Connection, text: &str) -> PlanKey {
    PlanKey::new(format!("T|{}", conn.plan_scope()), text)
}

/// The cached `Parse` result for `key`, if there is a current one.
pub(crate) async fn parsed(
    cache: &PlanCache,
    conn: &Connection,
    key: &PlanKey,
) -> Option<Arc<CachedPlan>> {
    cache.get(&conn.state().state, key).await
}

/// A prepared statement as datafusion-postgres stores it, from a cache
/// entry.
pub(crate) fn as_statement(entry: &CachedPlan) -> DfStatement {
    (
        entry.text.clone(),
        Some((entry.statement.clone(), entry.plan.clone())),
    )
}

/// Keeps a `Parse` result for later `Parse`s of the same text (and for
/// its `Execute`s), if it is a query; returns the entry.
pub(crate) async fn keep_parsed(
    cache: &PlanCache,
    conn: &Connection,
    key: PlanKey,
    parsed: &Option<DfStatement>,
) -> Option<Arc<CachedPlan>> {
    if !cache.is_enabled() {
        return None;
    }
    let Some((text, Some((statement @ Statement::Query(_), plan)))) = parsed else {
        return None;
    };
    let entry = CachedPlan::new(&conn.state().state, statement.clone(), plan.clone()).await;
    cache.insert(text_key(conn, text), entry.clone());
    cache.insert(key, entry.clone());
    Some(entry)
}

/// The cache entry of a prepared statement at `Execute`: the one kept by
/// its `Parse` if it is still current, else a new one.
pub(crate) async fn entry_for(
    cache: &PlanCache,
    conn: &Connection,
    text: &str,
    statement: &Statement,
    plan: &LogicalPlan,
) -> Arc<CachedPlan> {
    let state = conn.state().state;
    let key = text_key(conn, text);
    if let Some(found) = cache.get(&state, &key).await {
        return found;
    }
    let entry = CachedPlan::new(&state, statement.clone(), plan.clone()).await;
    cache.insert(key, entry.clone());
    entry
}

/// Whether a statement can take the cached-plan path: a query, outside a
/// failed transaction (whose statements the hooks refuse).
/// With no room for plans (`limits.plan_cache = 0`) every statement goes
/// to datafusion-postgres.
pub(crate) fn takes_plan_path<C: ClientInfo + ?Sized>(
    cache: &PlanCache,
    client: &C,
    statement: &Statement,
) -> bool {
    cache.is_enabled()
        && matches!(statement, Statement::Query(_))
        && client.transaction_status() != TransactionStatus::Error
}

/// Whether running `statement` may change the session's settings, so that
/// the connection's later plans must be its own.
pub(crate) fn may_change_settings(statement: &Statement) -> bool {
    // catalog changes (views, materialized views, sources) need nothing
    // here: a plan is checked against the catalog at every use
    matches!(
        statement,
        Statement::Set(_) | Statement::Reset(_) | Statement::Discard { .. } | Statement::Use(_)
    )
}

/// Runs a cached query, with the parameters of `portal` if it has any.
pub(crate) async fn run_query<C: ClientInfo + ?Sized>(
    conn: &Connection,
    client: &C,
    entry: &CachedPlan,
    portal: Option<&Portal<DfStatement>>,
    format: &Format,
) -> PgWireResult<QueryResponse> {
    let Snapshot { state, task_ctx } = if entry.is_reusable() {
        conn.state()
    } else {
        Snapshot::of(&conn.ctx)
    };
    let optimized = entry.optimized(&state).map_err(api)?;
    let bound = match portal {
        Some(portal) => {
            let params = parameters(portal, &entry.plan, &state)?;
            plan_cache::bind(&optimized, &params, &state).map_err(api)?
        }
        None => optimized.as_ref().clone(),
    };
    let schema = Arc::new(bound.schema().as_arrow().clone());
    let rows = plan_cache::execute(&state, task_ctx, &bound)
        .await
        .map_err(api)?;
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    encode(&schema, rows, format, options, session_zone(client))
}

/// The session's `TimeZone`, in which text results show `timestamptz`
/// values; `None` while it is UTC (as the columns are).
pub(crate) fn session_zone<C: ClientInfo + ?Sized>(client: &C) -> Option<Zone> {
    let name = client.metadata().get("timezone")?;
    match Zone::named(name)? {
        Zone::Fixed(0) => None,
        zone => Some(zone),
    }
}

/// The result rows of a query, encoded batch by batch as they come.
pub(crate) fn encode(
    schema: &datafusion::arrow::datatypes::Schema,
    rows: SendableRecordBatchStream,
    format: &Format,
    options: Arc<FormatOptions>,
    session_zone: Option<Zone>,
) -> PgWireResult<QueryResponse> {
    let date_style = options.date_style.clone();
    let fields = Arc::new(arrow_schema_to_pg_fields(schema, format, Some(options))?);
    let batch_fields = fields.clone();
    let format = format.clone();
    let rows = rows
        .map(move |batch| {
            let batch = batch.and_then(|b| {
                pg_text_columns(b, &format, &date_style, session_zone.as_ref())
                    .map_err(DataFusionError::from)
            });
            let rows: Box<dyn Iterator<Item = PgWireResult<_>> + Send + Sync> = match batch {
                Ok(batch) => encode_recordbatch(batch_fields.clone(), batch),
                Err(e) => Box::new(std::iter::once(Err(PgWireError::ApiError(e.into())))),
            };
            stream::iter(rows)
        })
        .flatten();
    Ok(QueryResponse::new(fields, rows))
}

/// The portal's parameter values, decoded for the types `plan` gives its
/// placeholders (as datafusion-postgres's `do_query` does), text dates and
/// times read as PostgreSQL reads them in the session's time zone.
fn parameters(
    portal: &Portal<DfStatement>,
    plan: &LogicalPlan,
    state: &SessionState,
) -> PgWireResult<ParamValues> {
    let types = inferred_parameter_types(plan).map_err(api)?;
    let wire = parameter_wire_types(plan, &types)?;
    let times = text_times(portal, &wire, state)?;
    let portal = times.as_ref().unwrap_or(portal);
    let wire: Vec<Option<&Type>> = wire.iter().map(Some).collect();
    let inferred: Vec<Option<DataType>> = ordered(&types).into_iter().map(|(_, t)| t).collect();
    let inferred: Vec<Option<&DataType>> = inferred.iter().map(Option::as_ref).collect();
    deserialize_parameters_with_server_types(portal, &inferred, &wire)
}

/// A copy of `portal` whose text parameters of type `timestamptz`,
/// `timestamp` or `date` are read by [`datetime::parse`] (`T00:00`, zone
/// names, `today`, the session's zone for a time without one) and written
/// in the form pgwire's decoders read; `None` if there are none. Refusals
/// carry PostgreSQL's SQLSTATE (22007, 22008, ...).
fn text_times(
    portal: &Portal<DfStatement>,
    wire: &[Type],
    state: &SessionState,
) -> PgWireResult<Option<Portal<DfStatement>>> {
    let mut changed: Option<Vec<Option<Bytes>>> = None;
    for (i, value) in portal.parameters.iter().enumerate() {
        let declared = portal.statement.parameter_types.get(i).cloned().flatten();
        // the declared type wins, as in arrow-pg's decoder
        let ty = match declared.as_ref().or(wire.get(i)) {
            Some(&Type::TIMESTAMPTZ) => TimeType::Timestamptz,
            Some(&Type::TIMESTAMP) => TimeType::Timestamp,
            Some(&Type::DATE) => TimeType::Date,
            _ => continue,
        };
        let Some(bytes) = value
            .as_ref()
            .filter(|_| portal.parameter_format.is_text(i))
        else {
            continue;
        };
        let zone = pg_compat::time_zone(state.config_options());
        let zone: Tz = zone
            .parse()
            .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
        let text = String::from_utf8_lossy(bytes);
        let read = datetime::parse(&text, ty, &zone, chrono::Utc::now()).map_err(|e| {
            PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".to_string(),
                e.sqlstate().to_string(),
                e.to_string(),
            )))
        })?;
        changed.get_or_insert_with(|| portal.parameters.clone())[i] =
            Some(Bytes::from(read.canonical_text()));
    }
    Ok(changed.map(|parameters| {
        let mut copy = Portal::default();
        copy.name = portal.name.clone();
        copy.statement = portal.statement.clone();
        copy.parameter_format = portal.parameter_format.clone();
        copy.parameters = parameters;
        copy.result_column_format = portal.result_column_format.clone();
        copy
    }))
}

/// Copied from datafusion-postgres 0.19 (`planner::get_inferred_parameter_types`,
/// private there): the plan's parameter types, with a placeholder's cast
/// type where DataFusion inferred none.
fn inferred_parameter_types(
    plan: &LogicalPlan,
) -> datafusion::error::Result<HashMap<String, Option<DataType>>> {
    let mut types = plan.get_parameter_types()?;
    if types.values().all(Option::is_some) {
        return Ok(types);
    }
    plan.apply(|node| {
        for expr in node.expressions() {
            expr.apply(|e| {
                if let Expr::Cast(cast) = e
                    && let Expr::Placeholder(p) = &*cast.expr
                    && let Some(slot @ None) = types.get_mut(&p.id)
                {
                    *slot = Some(cast.field.data_type().clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(types)
}

/// Copied from datafusion-postgres 0.19 (`parameter_wire_types` and
/// `parameter_override_types`, private there; pgvector left out, almasql
/// does not use it): the wire type of each parameter in order, `oid` for a
/// placeholder compared with an oid-alias catalog column.
fn parameter_wire_types(
    plan: &LogicalPlan,
    types: &HashMap<String, Option<DataType>>,
) -> PgWireResult<Vec<Type>> {
    let mut overrides: HashMap<String, Type> = HashMap::new();
    let _ = plan.apply(|node| {
        for expr in node.expressions() {
            let _ = expr.apply(|e| {
                let placeholder = match e {
                    Expr::Placeholder(p) => Some(p),
                    Expr::Cast(c) => match c.expr.as_ref() {
                        Expr::Placeholder(p) => Some(p),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(p) = placeholder
                    && let Some(field) = p.field.as_deref()
                    && field.data_type() == &DataType::Int32
                    && let Some(kind) = field.metadata().get(PG_OID_ALIAS_KEY)
                    && let Some(ty) = pg_type_for_alias_kind(kind)
                {
                    overrides.insert(p.id.clone(), ty);
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(TreeNodeRecursion::Continue)
    });
    ordered(types)
        .into_iter()
        .map(|(id, t)| match (overrides.remove(&id), t) {
            (Some(ty), _) => Ok(ty),
            (None, Some(t)) => into_pg_type(&t),
            (None, None) => Ok(Type::UNKNOWN),
        })
        .collect()
}

/// `$1`, `$2`, ... in order.
fn ordered(types: &HashMap<String, Option<DataType>>) -> Vec<(String, Option<DataType>)> {
    let mut entries: Vec<_> = types.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    entries.sort_by_key(|(k, _)| k.trim_start_matches('$').parse::<u32>().unwrap_or(u32::MAX));
    entries
}
