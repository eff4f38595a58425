//! Statements PostgreSQL clients send that neither DataFusion nor
//! datafusion-postgres run the way PostgreSQL does, answered by
//! [`CompatHook`] before the built-in hooks:
//!
//! - `SET search_path` / `SET SESSION search_path` (pgjdbc's `setSchema`):
//!   unqualified names resolve in the first schema that exists;
//! - `SET TIME ZONE`, `SET timezone`, `SHOW timezone`, `RESET`: the time
//!   zone of this connection's session (the built-in hook changes a copy);
//! - `SAVEPOINT`, `RELEASE`, `ROLLBACK TO` (SQLAlchemy and psycopg wrap
//!   statements in them; almasql is read-only, so there is nothing to undo);
//! - `DEALLOCATE name` of a protocol-level prepared statement (psqlODBC);
//! - `COPY (query) TO STDOUT` in text and CSV formats (psql's `\copy`);
//! - any other statement in a failed transaction: 25P02, as PostgreSQL.

use std::sync::Arc;

use almasql_engine::pg_compat;
use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    ContextModifier, CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget,
    Expr, Query, Reset, Set, Statement, Value,
};
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::arrow_pg::encoder::{Encoder, encode_value};
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire;
use futures::{StreamExt, stream};
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::{
    CopyCsvOptions, CopyEncoder, CopyResponse, CopyTextOptions, DataRowEncoder, FieldFormat,
    FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::store::PortalStore;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::DataRow;
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::startup::ParameterStatus;

use super::sqlstate::{FEATURE_NOT_SUPPORTED, IN_FAILED_SQL_TRANSACTION};

/// The hook answering the statements listed in the module documentation.
#[derive(Debug, Default)]
pub struct CompatHook;

/// The client metadata key datafusion-postgres keeps the time zone under.
const METADATA_TIMEZONE: &str = "timezone";
/// The client metadata key of the search path as the client set it.
const METADATA_SEARCH_PATH: &str = "search_path";

fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message.into(),
    )))
}

/// What the hook does with a statement.
enum Action<'a> {
    SearchPath(&'a [Expr]),
    TimeZone(Option<String>),
    Show(&'static str),
    Reset(Option<String>),
    Tag(&'static str),
    RollbackTo,
    Deallocate(String),
    Copy(&'a Query, &'a [CopyOption], &'a [CopyLegacyOption]),
}

/// The text of a `SET` value: an identifier, a string or a number.
fn value_text(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => i.value.clone(),
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

fn action(statement: &Statement) -> Option<Action<'_>> {
    match statement {
        Statement::Set(Set::SingleAssignment {
            scope: None | Some(ContextModifier::Session),
            hivevar: false,
            variable,
            values,
        }) => match variable.to_string().to_ascii_lowercase().as_str() {
            "search_path" => Some(Action::SearchPath(values)),
            "timezone" | "time zone" => Some(Action::TimeZone(values.first().map(value_text))),
            _ => None,
        },
        Statement::Set(Set::SetTimeZone {
            local: false,
            value,
        }) => Some(Action::TimeZone(Some(value_text(value)))),
        Statement::ShowVariable { variable } => {
            let name = variable
                .iter()
                .map(|i| i.value.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            match name.as_str() {
                "timezone" | "time zone" => Some(Action::Show("TimeZone")),
                "search_path" => Some(Action::Show("search_path")),
                _ => None,
            }
        }
        Statement::Reset(r) => Some(Action::Reset(match &r.reset {
            Reset::ALL => None,
            Reset::ConfigurationParameter(name) => Some(name.to_string().to_ascii_lowercase()),
        })),
        Statement::Savepoint { .. } => Some(Action::Tag("SAVEPOINT")),
        Statement::ReleaseSavepoint { .. } => Some(Action::Tag("RELEASE")),
        Statement::Rollback {
            savepoint: Some(_), ..
        } => Some(Action::RollbackTo),
        Statement::Deallocate { name, .. } => Some(Action::Deallocate(name.value.clone())),
        Statement::Copy {
            source: CopySource::Query(query),
            to: true,
            target: CopyTarget::Stdout,
            options,
            legacy_options,
            ..
        } => Some(Action::Copy(query, options, legacy_options)),
        _ => None,
    }
}

/// The plan the extended protocol describes for a statement of ours.
fn describe(action: &Action<'_>) -> PgWireResult<LogicalPlan> {
    let schema = match action {
        Action::Show(name) => Schema::new(vec![Field::new(*name, DataType::Utf8, false)]),
        _ => Schema::empty(),
    };
    let schema = DFSchema::try_from(schema).map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    Ok(LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: matches!(action, Action::Show(_)),
        schema: Arc::new(schema),
    }))
}

/// A one-row, one-column text result, as `SHOW` returns.
fn show_response(name: &str, value: &str) -> PgWireResult<Response> {
    let fields = Arc::new(vec![FieldInfo::new(
        name.to_string(),
        None,
        None,
        pgwire::api::Type::TEXT,
        FieldFormat::Text,
    )]);
    let mut encoder = DataRowEncoder::new(fields.clone());
    encoder.encode_field(&Some(value))?;
    let row: PgWireResult<DataRow> = Ok(encoder.take_row());
    Ok(Response::Query(QueryResponse::new(
        fields,
        stream::iter([row]),
    )))
}

/// Sets this session's time zone (`None`: back to the default, UTC).
async fn set_time_zone(
    ctx: &SessionContext,
    client: &mut dyn HookClient,
    value: Option<String>,
) -> PgWireResult<()> {
    let value =
        value.filter(|v| !(v.eq_ignore_ascii_case("default") || v.eq_ignore_ascii_case("local")));
    // the server's default is UTC (see `almasql_engine::session`)
    let zone = match value.as_deref() {
        None => "UTC".to_string(),
        Some(z)
            if ["utc", "etc/utc", "gmt", "z", "+00:00"]
                .contains(&z.to_ascii_lowercase().as_str()) =>
        {
            "UTC".to_string()
        }
        Some(z) => {
            z.parse::<datafusion::arrow::array::timezone::Tz>()
                .map_err(|_| {
                    error(
                        "22023",
                        format!("invalid value for parameter \"TimeZone\": \"{z}\""),
                    )
                })?;
            z.to_string()
        }
    };
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .execution
        .time_zone = Some(zone.clone());
    let shown = zone;
    client
        .metadata_mut()
        .insert(METADATA_TIMEZONE.to_string(), shown.clone());
    client
        .send_message(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
            "TimeZone".to_string(),
            shown,
        )))
        .await
}

/// Sets this session's search path: unqualified names resolve in its first
/// schema that exists (PostgreSQL skips the missing ones).
fn set_search_path(ctx: &SessionContext, client: &mut dyn HookClient, values: &[String]) {
    let names: Vec<String> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let catalog = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone();
    let existing = ctx
        .catalog(&catalog)
        .map(|c| c.schema_names())
        .unwrap_or_default();
    let first = names
        .iter()
        .find(|n| *n != "$user" && *n != "pg_catalog" && existing.contains(n))
        .cloned()
        .unwrap_or_else(|| "public".to_string());
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .catalog
        .default_schema = first;
    client
        .metadata_mut()
        .insert(METADATA_SEARCH_PATH.to_string(), names.join(", "));
}

/// `COPY (query) TO STDOUT`: the rows in PostgreSQL's text or CSV format,
/// streamed batch by batch.
async fn copy_out(
    ctx: &SessionContext,
    query: &Query,
    options: &[CopyOption],
    legacy: &[CopyLegacyOption],
) -> PgWireResult<Response> {
    let unsupported = |what: &str| {
        error(
            FEATURE_NOT_SUPPORTED,
            format!("COPY TO STDOUT: {what} is not supported"),
        )
    };
    let (mut csv, mut header) = (false, false);
    let (mut delimiter, mut null, mut quote) = (None::<char>, None::<String>, None::<char>);
    for option in options {
        match option {
            CopyOption::Format(f) => match f.value.to_ascii_lowercase().as_str() {
                "csv" => csv = true,
                "text" => csv = false,
                other => return Err(unsupported(&format!("format {other}"))),
            },
            CopyOption::Header(h) => header = *h,
            CopyOption::Delimiter(c) => delimiter = Some(*c),
            CopyOption::Null(s) => null = Some(s.clone()),
            CopyOption::Quote(c) => quote = Some(*c),
            other => return Err(unsupported(&format!("option {other}"))),
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Csv(csv_options) => {
                csv = true;
                for o in csv_options {
                    match o {
                        CopyLegacyCsvOption::Header => header = true,
                        CopyLegacyCsvOption::Quote(c) => quote = Some(*c),
                        other => return Err(unsupported(&format!("option {other}"))),
                    }
                }
            }
            CopyLegacyOption::Header => header = true,
            CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            CopyLegacyOption::Null(s) => null = Some(s.clone()),
            other => return Err(unsupported(&format!("option {other}"))),
        }
    }
    if header && !csv {
        return Err(unsupported("HEADER in text format"));
    }
    let df = ctx
        .sql(&query.to_string())
        .await
        .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let fields = Arc::new(arrow_schema_to_pg_fields(
        &schema,
        &Format::UnifiedText,
        None,
    )?);
    let columns = fields.len();
    let delimiter = delimiter.unwrap_or(if csv { ',' } else { '\t' });
    let quote = quote.unwrap_or('"');
    let make_encoder = {
        let fields = fields.clone();
        move || {
            if csv {
                CopyEncoder::new_csv(
                    fields.clone(),
                    CopyCsvOptions {
                        delimiter: delimiter.to_string().into(),
                        quote: quote.to_string().into(),
                        escape: quote.to_string().into(),
                        null_string: null.clone().unwrap_or_default().into(),
                        force_quote: vec![],
                    },
                )
            } else {
                CopyEncoder::new_text(
                    fields.clone(),
                    CopyTextOptions {
                        delimiter: delimiter.to_string().into(),
                        null_string: null.clone().unwrap_or_else(|| "\\N".to_string()).into(),
                    },
                )
            }
        }
    };
    let header_row = header.then(|| {
        let names: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| csv_quote(f.name(), delimiter, quote))
            .collect();
        let line = format!("{}\n", names.join(&delimiter.to_string()));
        Ok(pgwire::messages::copy::CopyData::new(line.into()))
    });
    let batches = df
        .execute_stream()
        .await
        .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    let rows = batches.flat_map(move |batch| {
        let rows: Vec<PgWireResult<pgwire::messages::copy::CopyData>> = match batch {
            Err(e) => vec![Err(PgWireError::ApiError(Box::new(e)))],
            Ok(batch) => {
                let mut encoder = make_encoder();
                let mut out = Vec::with_capacity(batch.num_rows());
                'rows: for row in 0..batch.num_rows() {
                    for (col, field) in fields.iter().enumerate() {
                        if let Err(e) = encode_value(
                            &mut encoder,
                            batch.column(col),
                            row,
                            schema.field(col),
                            field,
                        ) {
                            out.push(Err(e));
                            break 'rows;
                        }
                    }
                    out.push(Ok(Encoder::take_row(&mut encoder)));
                }
                out
            }
        };
        stream::iter(rows)
    });
    let data = stream::iter(header_row).chain(rows);
    Ok(Response::CopyOut(CopyResponse::new(0, columns, data)))
}

/// A CSV header field, quoted when it needs to be.
fn csv_quote(name: &str, delimiter: char, quote: char) -> String {
    if name.contains([delimiter, quote, '\n', '\r']) {
        let doubled = name.replace(quote, &format!("{quote}{quote}"));
        format!("{quote}{doubled}{quote}")
    } else {
        name.to_string()
    }
}

async fn run(
    action: Action<'_>,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    match action {
        Action::SearchPath(values) => {
            let values: Vec<String> = values.iter().map(value_text).collect();
            set_search_path(ctx, client, &values);
            Ok(Response::Execution(Tag::new("SET")))
        }
        Action::TimeZone(value) => {
            set_time_zone(ctx, client, value).await?;
            Ok(Response::Execution(Tag::new("SET")))
        }
        Action::Show(name) => {
            let config = ctx.state().config().options().clone();
            let value = if name == "TimeZone" {
                pg_compat::time_zone(&config)
            } else {
                client
                    .metadata()
                    .get(METADATA_SEARCH_PATH)
                    .cloned()
                    .unwrap_or_else(|| format!("\"$user\", {}", config.catalog.default_schema))
            };
            show_response(name, &value)
        }
        Action::Reset(name) => {
            if matches!(name.as_deref(), None | Some("timezone" | "time zone")) {
                set_time_zone(ctx, client, None).await?;
            }
            if matches!(name.as_deref(), None | Some("search_path")) {
                set_search_path(ctx, client, &["public".to_string()]);
                client.metadata_mut().remove(METADATA_SEARCH_PATH);
            }
            Ok(Response::Execution(Tag::new("RESET")))
        }
        Action::Tag(tag) => Ok(Response::Execution(Tag::new(tag))),
        Action::RollbackTo => Ok(Response::TransactionStart(Tag::new("ROLLBACK"))),
        Action::Deallocate(name) => {
            let store = client.portal_store();
            if name.eq_ignore_ascii_case("all") {
                // the unnamed statement stays; PostgreSQL's DEALLOCATE ALL
                // frees the named ones, which pgwire cannot list
                return Ok(Response::Execution(Tag::new("DEALLOCATE ALL")));
            }
            if store.get_statement(&name).is_none() {
                return Err(error(
                    "26000",
                    format!("prepared statement \"{name}\" does not exist"),
                ));
            }
            store.rm_statement(&name);
            Ok(Response::Execution(Tag::new("DEALLOCATE")))
        }
        Action::Copy(query, options, legacy) => copy_out(ctx, query, options, legacy).await,
    }
}

/// Whether a statement may run in a failed transaction.
fn ends_transaction(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Commit { .. } | Statement::Rollback { .. }
    )
}

#[async_trait]
impl QueryHook for CompatHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if client.transaction_status() == TransactionStatus::Error && !ends_transaction(statement) {
            return Some(Err(error(
                IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            )));
        }
        let action = action(statement)?;
        Some(run(action, ctx, client).await)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        match action(statement)? {
            // COPY is a simple-protocol statement for psql's \copy
            Action::Copy(..) => None,
            a => Some(describe(&a)),
        }
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.handle_simple_query(statement, ctx, client).await
    }
}
