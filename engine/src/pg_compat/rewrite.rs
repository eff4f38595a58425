//! SQL rewrites for PostgreSQL client queries DataFusion cannot run as
//! written, applied to the text before it is planned:
//!
//! - `x [NOT] [I]LIKE p ESCAPE 'c'` with `c` other than a backslash (what
//!   SQLAlchemy sends) becomes `x LIKE like_escape(p, 'c')`;
//! - `information_schema.columns` becomes a subquery over DataFusion's view
//!   with PostgreSQL's type names (`data_type`, `udt_schema`, `udt_name`)
//!   and 1-based `ordinal_position`, which Grafana and Metabase read;
//! - a placeholder whose type the client declared in `Parse` becomes
//!   `CAST($n AS type)`, so `select $1` has the declared type and `$2 * 2`
//!   is not given an inferred type the client did not send;
//! - unaliased function calls and casts of a column in the outermost select
//!   list get PostgreSQL's output names (`count`, not `count(*)`; `value`
//!   for `value::int`), when the name is unique in the list.
//!
//! - a subquery in the select list of a query that reads no catalog is put
//!   in parentheses, out of reach of datafusion-pg-catalog's rule that
//!   replaces correlated select-list subqueries with NULL (meant for
//!   catalog queries, it would silently null a user's correlated subquery);
//! - `CASE WHEN c THEN (SELECT .. FROM pg_attrdef | pg_sequence |
//!   pg_collation ..) END` (SQLAlchemy's column reflection) is NULL:
//!   almasql has no column defaults, sequences or non-default collations,
//!   and DataFusion cannot run those correlated lookups inside CASE.
//!
//! SQL that does not parse, or needs no rewrite, is left untouched.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FunctionArguments, GroupByExpr, Ident, JoinOperator,
    LimitClause, ObjectName, Query, SelectItem, SetExpr, Statement, TableAlias,
    TableAliasColumnDef, TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// `sql` rewritten for DataFusion, or `None` when nothing needs rewriting.
/// `parameter_types` are the SQL type names the client declared for `$1`,
/// `$2`, ... (`None`: not declared, or a text type left to inference).
pub fn rewrite_sql(sql: &str, parameter_types: &[Option<&str>]) -> Option<String> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    let mut casts = parameter_types
        .iter()
        .map(|t| {
            t.and_then(|t| {
                Parser::new(&PostgreSqlDialect {})
                    .try_with_sql(t)
                    .ok()?
                    .parse_data_type()
                    .ok()
            })
        })
        .collect::<Vec<_>>();
    casts.resize(parameter_types.len(), None);
    let lower = sql.to_lowercase();
    let mut rewriter = Rewriter {
        reads_catalog: lower.contains("pg_") || lower.contains("information_schema"),
        sql: lower,
        changed: false,
        casts,
        limits: vec![],
    };
    for statement in &mut statements {
        let _ = statement.visit(&mut rewriter);
        // catalog queries are left as written: datafusion-pg-catalog has
        // rules for them that a re-printed query may no longer match
        if let Statement::Query(query) = statement {
            rewriter.changed |= name_repeated_literals(query);
            if !rewriter.sql.contains("pg_") {
                rewriter.changed |= name_outputs(query);
            }
        }
    }
    rewriter.changed.then(|| {
        statements
            .iter()
            .map(Statement::to_string)
            .collect::<Vec<_>>()
            .join(";\n")
    })
}

struct Rewriter {
    /// The SQL, in lower case.
    sql: String,
    /// Whether the SQL reads pg_catalog or information_schema.
    reads_catalog: bool,
    changed: bool,
    /// The type to cast `$n` to, at `n - 1`.
    casts: Vec<Option<DataType>>,
    /// The LIMIT clauses taken out of the queries being visited: a
    /// placeholder there stays as it is.
    limits: Vec<Option<LimitClause>>,
}

/// PostgreSQL's name for an unaliased select-list expression that
/// DataFusion names differently: a function call is named after the
/// function, a cast after what it casts.
fn pg_output_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Function(f) => {
            let ident = f.name.0.last()?.as_ident()?;
            Some(match ident.quote_style {
                Some(_) => ident.value.clone(),
                None => ident.value.to_lowercase(),
            })
        }
        Expr::Cast { expr, .. } | Expr::Nested(expr) => match expr.as_ref() {
            Expr::Identifier(i) => Some(i.value.clone()),
            Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
            other => pg_output_name(other),
        },
        _ => None,
    }
}

/// Gives the unaliased expressions of the outermost select list their
/// PostgreSQL names where those are unique; whether it changed anything.
fn name_outputs(query: &mut Query) -> bool {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let grouped = !matches!(
        &select.group_by,
        GroupByExpr::Expressions(e, _) if e.is_empty()
    );
    let mut names = vec![];
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => names.push(Some(i.value.clone())),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => {
                names.push(p.last().map(|i| i.value.clone()))
            }
            SelectItem::UnnamedExpr(e) => names.push(pg_output_name(e)),
            SelectItem::ExprWithAlias { alias, .. } => names.push(Some(alias.value.clone())),
            // the names a wildcard brings are not known here
            _ => return false,
        }
    }
    let mut changed = false;
    // `select $1` of an undeclared or text parameter is text in PostgreSQL
    for item in select.projection.iter_mut() {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
            && let Expr::Value(v) = &*e
            && matches!(v.value, Value::Placeholder(_))
        {
            *e = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(e.clone()),
                data_type: DataType::Text,
                array: false,
                format: None,
            };
            changed = true;
        }
    }
    for (i, item) in select.projection.iter_mut().enumerate() {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        // GROUP BY may name a column that an alias would then shadow
        if grouped && !matches!(expr, Expr::Function(_)) {
            continue;
        }
        let Some(name) = pg_output_name(expr) else {
            continue;
        };
        let unique = names
            .iter()
            .flatten()
            .filter(|n| n.eq_ignore_ascii_case(&name))
            .count()
            == 1;
        if unique && names[i].is_some() {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', name),
            };
            changed = true;
        }
    }
    // a lone literal is `?column?` in PostgreSQL (`select 1`), not `Int64(1)`
    let literals = select
        .projection
        .iter()
        .filter(|item| matches!(item, SelectItem::UnnamedExpr(e) if is_literal(e)))
        .count();
    let taken = names.iter().flatten().any(|n| n == "?column?");
    if literals == 1 && !taken {
        for item in select.projection.iter_mut() {
            if let SelectItem::UnnamedExpr(e) = item
                && is_literal(e)
            {
                *item = SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: Ident::with_quote('"', "?column?"),
                };
                changed = true;
            }
        }
    }
    changed
}

/// Whether `expr` is a constant PostgreSQL names `?column?`: a literal
/// other than a placeholder, or a negated one.
fn is_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => !matches!(v.value, Value::Placeholder(_)),
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) => is_literal(expr),
        _ => false,
    }
}

/// Gives repeated literals of the outermost select list distinct names
/// (pgjdbc's `getProcedures` selects NULL thrice): PostgreSQL names each
/// `?column?`, DataFusion wants distinct names. Whether it changed anything.
fn name_repeated_literals(query: &mut Query) -> bool {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let mut changed = false;
    let literals: Vec<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::UnnamedExpr(e @ Expr::Value(_)) => Some(e.to_string()),
            _ => None,
        })
        .collect();
    let mut seen = 0;
    for item in select.projection.iter_mut() {
        if let SelectItem::UnnamedExpr(e @ Expr::Value(_)) = item {
            let text = e.to_string();
            if literals.iter().filter(|l| **l == text).count() > 1 {
                seen += 1;
                let name = match seen {
                    1 => "?column?".to_string(),
                    n => format!("?column?_{n}"),
                };
                *item = SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: Ident::with_quote('"', name),
                };
                changed = true;
            }
        }
    }
    changed
}

/// Catalogs whose lookups by a column find nothing in almasql: column
/// defaults (`pg_attrdef` is empty), sequences (`pg_sequence` is empty) and
/// a column's own collation (`pg_collation` by `attcollation`, which is 0,
/// the default, for every column).
const ABSENT_CATALOGS: [&str; 3] = ["pg_attrdef", "pg_sequence", "pg_collation"];

/// Whether `query` is a plain select whose first table is one of
/// [`ABSENT_CATALOGS`], joined to others only by inner or left joins (so
/// it finds nothing when that table does).
fn looks_up_absent_catalog(query: &Query) -> bool {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let Some(first) = select.from.first() else {
        return false;
    };
    let absent = matches!(&first.relation, TableFactor::Table { name, args: None, .. }
    if name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| {
        ABSENT_CATALOGS.contains(&i.value.to_ascii_lowercase().as_str())
    }));
    absent
        && first.joins.iter().all(|j| {
            matches!(
                j.join_operator,
                JoinOperator::Join(_)
                    | JoinOperator::Inner(_)
                    | JoinOperator::Left(_)
                    | JoinOperator::LeftOuter(_)
                    | JoinOperator::CrossJoin(_)
            )
        })
}

/// The placeholders in an expression, each as written (with the cast that
/// types it, if any), by number.
#[derive(Default)]
struct Placeholders(BTreeMap<String, Expr>);

impl Visitor for Placeholders {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let placeholder = |e: &Expr| match e {
            Expr::Value(v) => match &v.value {
                Value::Placeholder(p) => Some(p.clone()),
                _ => None,
            },
            _ => None,
        };
        match expr {
            Expr::Cast { expr: inner, .. } => {
                if let Some(p) = placeholder(inner) {
                    self.0.insert(p, expr.clone());
                }
            }
            e => {
                if let Some(p) = placeholder(e) {
                    self.0.entry(p).or_insert_with(|| e.clone());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// `CASE .. END` whose results are NULL or lookups in [`ABSENT_CATALOGS`]
/// (SQLAlchemy's column default, identity and collation), as a text NULL
/// that still mentions the CASE's placeholders: the client binds a value
/// to each, by position.
fn absent_catalog_case(expr: &Expr) -> Option<Expr> {
    let Expr::Case {
        conditions,
        else_result,
        ..
    } = expr
    else {
        return None;
    };
    let is_null = |e: &Expr| matches!(e, Expr::Value(v) if v.value == Value::Null);
    let mut lookups = 0;
    for result in conditions
        .iter()
        .map(|w| &w.result)
        .chain(else_result.as_deref())
    {
        match result {
            Expr::Subquery(q) if looks_up_absent_catalog(q) => lookups += 1,
            e if is_null(e) => {}
            _ => return None,
        }
    }
    if lookups == 0 {
        return None;
    }
    let mut placeholders = Placeholders::default();
    let _ = expr.visit(&mut placeholders);
    // `CASE WHEN $1 IS NULL OR .. THEN NULL END`: NULL whatever the values
    let mentions = placeholders
        .0
        .values()
        .map(|p| format!("({p}) IS NULL"))
        .collect::<Vec<_>>();
    let value = match mentions.is_empty() {
        true => "NULL".to_string(),
        false => format!("CASE WHEN {} THEN NULL END", mentions.join(" OR ")),
    };
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&format!("CAST({value} AS TEXT)"))
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// The name of a call of `col_description`, `obj_description` or
/// `shobj_description`.
fn comment_function(expr: &Expr) -> Option<&'static str> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let name = f.name.0.last()?.as_ident()?.value.to_lowercase();
    ["col_description", "obj_description", "shobj_description"]
        .into_iter()
        .find(|c| *c == name)
}

/// `ARRAY(SELECT .. FROM unnest(t.reloptions) ..)`: psql's `\d+` reading
/// the options of a table's TOAST table, which almasql never has (the
/// array is always empty).
fn is_toast_options(expr: &Expr) -> bool {
    let Expr::Function(f) = expr else {
        return false;
    };
    f.name.to_string().eq_ignore_ascii_case("array")
        && matches!(&f.args, FunctionArguments::Subquery(q)
            if q.to_string().to_lowercase().contains(".reloptions)"))
}

/// Set-returning functions whose one column PostgreSQL names after the
/// table alias.
const SET_RETURNING: [&str; 2] = ["generate_series", "unnest"];

/// Array-valued functions clients call in FROM (Grafana: `string_to_array`
/// of the search path), which DataFusion takes for table functions.
const SCALAR_IN_FROM: [&str; 4] = [
    "string_to_array",
    "regexp_split_to_array",
    "parse_ident",
    "current_schemas",
];

/// The constraint views of information_schema, with their columns (text
/// unless typed): almasql has no constraints, so they are empty.
const CONSTRAINT_VIEWS: [(&str, &[&str]); 4] = [
    (
        "table_constraints",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "constraint_type",
            "is_deferrable",
            "initially_deferred",
            "enforced",
            "nulls_distinct",
        ],
    ),
    (
        "key_column_usage",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "ordinal_position INT",
            "position_in_unique_constraint INT",
        ],
    ),
    (
        "constraint_column_usage",
        &[
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
        ],
    ),
    (
        "referential_constraints",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "unique_constraint_catalog",
            "unique_constraint_schema",
            "unique_constraint_name",
            "match_option",
            "update_rule",
            "delete_rule",
        ],
    ),
];

fn parse_query(sql: &str) -> Option<Query> {
    match Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?.pop()? {
        Statement::Query(q) => Some(*q),
        _ => None,
    }
}

/// The replacement of `[catalog.]information_schema.<view>` and its
/// default alias, for the views DataFusion lacks or shows differently.
fn information_schema_view(name: &ObjectName) -> Option<(Query, String)> {
    let parts: Vec<&Ident> = name.0.iter().filter_map(|p| p.as_ident()).collect();
    if parts.len() != name.0.len()
        || parts.len() < 2
        || !parts[parts.len() - 2]
            .value
            .eq_ignore_ascii_case("information_schema")
    {
        return None;
    }
    let view = parts[parts.len() - 1].value.to_ascii_lowercase();
    if view == "columns" {
        return pg_columns_query(name).map(|q| (q, view));
    }
    let (_, columns) = CONSTRAINT_VIEWS.iter().find(|(v, _)| *v == view)?;
    let select = columns
        .iter()
        .map(|c| match c.split_once(' ') {
            Some((column, ty)) => format!("CAST(NULL AS {ty}) AS {column}"),
            None => format!("CAST(NULL AS TEXT) AS {c}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    parse_query(&format!("SELECT {select} WHERE false")).map(|q| (q, view))
}

/// DataFusion's `information_schema.columns` (named `source`) with
/// PostgreSQL's names and numbering.
fn pg_columns_query(source: &ObjectName) -> Option<Query> {
    let sql = format!(
        "SELECT table_catalog, table_schema, table_name, column_name, \
         ordinal_position + 1 AS ordinal_position, column_default, is_nullable, \
         pg_data_type_name(data_type) AS data_type, character_maximum_length, \
         character_octet_length, numeric_precision, numeric_precision_radix, numeric_scale, \
         datetime_precision, interval_type, table_catalog AS udt_catalog, \
         'pg_catalog' AS udt_schema, pg_udt_name(data_type) AS udt_name, \
         'NO' AS is_identity, 'NEVER' AS is_generated, 'YES' AS is_updatable \
         FROM {source}"
    );
    parse_query(&sql)
}

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.limits.push(query.limit_clause.take());
        // an unaliased comment function keeps PostgreSQL's column name when
        // it becomes NULL below (psql's `\d+` has another NULL beside it)
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(e @ Expr::Function(_)) = item
                    && let Some(name) = comment_function(e)
                {
                    *item = SelectItem::ExprWithAlias {
                        expr: e.clone(),
                        alias: Ident::new(name),
                    };
                    self.changed = true;
                }
            }
        }
        if !self.reads_catalog
            && let SetExpr::Select(select) = query.body.as_mut()
        {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                    && matches!(e, Expr::Subquery(_))
                {
                    *e = Expr::Nested(Box::new(e.clone()));
                    self.changed = true;
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        query.limit_clause = self.limits.pop().flatten();
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name, alias, args, ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let replacement = match args {
            None => information_schema_view(name),
            Some(args) => {
                let function = name.to_string().to_ascii_lowercase();
                // (not `pg_catalog.`-qualified: psql's catalog queries must
                // stay as written for datafusion-pg-catalog's blacklist)
                if SET_RETURNING.contains(&function.as_str()) {
                    // PostgreSQL: `generate_series(..) AS i` names the column i too
                    // (unless the query reads DataFusion's `value` column)
                    if let Some(a) = alias
                        && a.columns.is_empty()
                        && !self
                            .sql
                            .contains(&format!("{}.value", a.name.value.to_lowercase()))
                    {
                        a.columns = vec![TableAliasColumnDef {
                            name: a.name.clone(),
                            data_type: None,
                        }];
                        self.changed = true;
                    }
                    None
                } else if SCALAR_IN_FROM.contains(&function.as_str()) {
                    // a scalar function in FROM is a one-row table whose
                    // column is named like the table
                    let column = alias
                        .as_ref()
                        .map_or(function.clone(), |a| a.name.to_string());
                    let args = args
                        .args
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ");
                    parse_query(&format!("SELECT {name}({args}) AS {column}"))
                        .map(|q| (q, function.clone()))
                } else {
                    None
                }
            }
        };
        if let Some((subquery, default_alias)) = replacement {
            let alias = alias.clone().unwrap_or(TableAlias {
                explicit: true,
                at: None,
                name: Ident::new(default_alias),
                columns: vec![],
            });
            *factor = TableFactor::Derived {
                lateral: false,
                subquery: Box::new(subquery),
                alias: Some(alias),
                sample: None,
            };
            self.changed = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        // `options || ARRAY(toast options)` is `options`
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::StringConcat,
            right,
        } = expr
            && is_toast_options(right)
        {
            *expr = (**left).clone();
            self.changed = true;
            return ControlFlow::Continue(());
        }
        if self.reads_catalog
            && let Some(null) = absent_catalog_case(expr)
        {
            *expr = null;
            self.changed = true;
            return ControlFlow::Continue(());
        }
        // `x IN (schemas of current_setting('search_path'))` (Grafana): the
        // search path resolves to one schema, current_schema(); DataFusion
        // cannot run that IN subquery inside CASE or ORDER BY
        if let Expr::InSubquery {
            expr: needle,
            subquery,
            negated,
        } = &*expr
            && subquery
                .to_string()
                .to_lowercase()
                .contains("current_setting('search_path')")
        {
            let op = if *negated { "<>" } else { "=" };
            if let Ok(new) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&format!("({needle}) {op} current_schema()"))
                .and_then(|mut p| p.parse_expr())
            {
                *expr = new;
                self.changed = true;
                return ControlFlow::Continue(());
            }
        }
        // comments: almasql has none, whatever the arguments (Metabase
        // passes a regclass cast of a computed name, which cannot plan)
        if comment_function(expr).is_some() {
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(Expr::Value(Value::Null.into())),
                data_type: DataType::Text,
                array: false,
                format: None,
            };
            self.changed = true;
            return ControlFlow::Continue(());
        }
        // PostgreSQL's `user` is `current_user` (sqlparser reads it as a
        // function without parentheses, DataFusion as a column)
        let is_user = match &*expr {
            Expr::Identifier(i) => i.quote_style.is_none() && i.value.eq_ignore_ascii_case("user"),
            Expr::Function(f) => {
                matches!(f.args, FunctionArguments::None)
                    && f.name.to_string().eq_ignore_ascii_case("user")
            }
            _ => false,
        };
        if is_user
            && let Ok(current_user) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql("current_user")
                .and_then(|mut p| p.parse_expr())
        {
            *expr = current_user;
            self.changed = true;
            return ControlFlow::Continue(());
        }
        // `$n IS [NOT] NULL` of a parameter of no declared type: text, so a
        // NULL bound to it is decoded (arrow-pg drops a NULL of unknown type)
        if let Expr::IsNull(inner) | Expr::IsNotNull(inner) = expr
            && matches!(inner.as_ref(), Expr::Value(v) if matches!(v.value, Value::Placeholder(_)))
        {
            **inner = Expr::Cast {
                kind: CastKind::Cast,
                expr: inner.clone(),
                data_type: DataType::Text,
                array: false,
                format: None,
            };
            self.changed = true;
            return ControlFlow::Continue(());
        }
        if let Expr::Value(v) = expr
            && let Value::Placeholder(p) = &v.value
            && let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
            && let Some(Some(data_type)) = n.checked_sub(1).and_then(|i| self.casts.get(i))
        {
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(expr.clone()),
                data_type: data_type.clone(),
                array: false,
                format: None,
            };
            self.changed = true;
            return ControlFlow::Continue(());
        }
        if let Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        } = expr
            && let Some(escape) = escape_char
            && let Value::SingleQuotedString(c) | Value::EscapedStringLiteral(c) = &escape.value
            && c != "\\"
        {
            let call = format!(
                "like_escape({pattern}, {})",
                Value::SingleQuotedString(c.clone())
            );
            if let Ok(new) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&call)
                .and_then(|mut p| p.parse_expr())
            {
                **pattern = new;
                *escape_char = None;
                self.changed = true;
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite_sql;

    #[test]
    fn like_with_another_escape_calls_like_escape() {
        // SQLAlchemy 2's get_schema_names()
        let sql = "SELECT nspname FROM pg_catalog.pg_namespace \
                   WHERE nspname NOT LIKE $1::VARCHAR || '%' ESCAPE '/'";
        let out = rewrite_sql(sql, &[]).unwrap();
        assert!(
            out.contains("NOT LIKE like_escape($1::VARCHAR || '%', '/')"),
            "{out}"
        );
        assert!(!out.contains("ESCAPE"), "{out}");
        assert_eq!(
            rewrite_sql("SELECT 1 AS x WHERE 'a' LIKE 'a' ESCAPE '\\'", &[]),
            None
        );
    }

    #[test]
    fn information_schema_columns_gets_postgres_type_names() {
        // Grafana's column listing
        let sql = "SELECT column_name, data_type FROM information_schema.columns \
                   WHERE table_schema = 'monitor' AND table_name = 'samples'";
        let out = rewrite_sql(sql, &[]).unwrap();
        assert!(
            out.contains("pg_data_type_name(data_type) AS data_type"),
            "{out}"
        );
        assert!(
            out.contains("FROM information_schema.columns) AS columns"),
            "{out}"
        );
        // an alias is kept; the inner reference is not rewritten again
        let out = rewrite_sql("select c.udt_name from information_schema.columns c", &[]).unwrap();
        assert_eq!(out.matches("pg_udt_name").count(), 1, "{out}");
        assert!(out.ends_with(") AS c") || out.ends_with(") c"), "{out}");
        assert_eq!(rewrite_sql("select * from monitor.samples", &[]), None);
    }

    #[test]
    fn declared_parameter_types_become_casts() {
        // psycopg declares int2 and float8 for 7 and 1.25; text is left alone
        let out = rewrite_sql(
            "select $1 + 1, $2 * 2, $3 || 'x' from t limit $4",
            &[
                Some("smallint"),
                Some("double precision"),
                None,
                Some("bigint"),
            ],
        )
        .unwrap();
        assert!(out.contains("CAST($1 AS SMALLINT) + 1"), "{out}");
        assert!(out.contains("CAST($2 AS DOUBLE PRECISION) * 2"), "{out}");
        assert!(out.contains("$3 || 'x'"), "{out}");
        assert!(out.ends_with("LIMIT $4"), "{out}");
        // an undeclared parameter alone in the select list is text
        let out = rewrite_sql("select $1 as s, $2", &[None, Some("integer")]).unwrap();
        assert!(
            out.contains("CAST($1 AS TEXT) AS s, CAST($2 AS INTEGER)"),
            "{out}"
        );
    }

    #[test]
    fn output_columns_get_postgres_names() {
        let out = rewrite_sql("select count(*), max(t.d) from ops.antennas t", &[]).unwrap();
        assert!(out.contains(r#"count(*) AS "count""#), "{out}");
        assert!(out.contains(r#"max(t.d) AS "max""#), "{out}");
        let out = rewrite_sql("select value::int from s order by value limit 3", &[]).unwrap();
        assert!(out.contains(r#"value::INT AS "value""#), "{out}");
        // not unique, or already named: left alone
        assert_eq!(rewrite_sql("select count(a), count(b) from t", &[]), None);
        assert_eq!(rewrite_sql("select count(*) as n from t", &[]), None);
        assert_eq!(rewrite_sql("select *, count(*) over () from t", &[]), None);
        // a lone literal is `?column?`, as in PostgreSQL
        let out = rewrite_sql("select 1", &[]).unwrap();
        assert_eq!(out, r#"SELECT 1 AS "?column?""#);
        let out = rewrite_sql("select -2.5, count(*) from t", &[]).unwrap();
        assert!(
            out.contains(r#"-2.5 AS "?column?", count(*) AS "count""#),
            "{out}"
        );
        // two literals: both keep DataFusion's distinct names
        assert_eq!(rewrite_sql("select 1, 'a'", &[]), None);
    }

    #[test]
    fn functions_in_from_and_user_read_as_in_postgres() {
        // the FROM clause of Grafana's search-path subquery
        let sql = "SELECT CASE WHEN TRIM(s[i]) = '\"$user\"' THEN user ELSE TRIM(s[i]) END \
                   FROM generate_series(1, 2) AS i, string_to_array('a,b', ',') s";
        let out = rewrite_sql(sql, &[]).unwrap();
        assert!(out.contains("generate_series(1, 2) AS i (i)"), "{out}");
        assert!(
            out.contains("(SELECT string_to_array('a,b', ',') AS s) s"),
            "{out}"
        );
        let lower = out.to_lowercase();
        assert!(lower.contains("then current_user else"), "{out}");
        // DataFusion's own spelling, `alias.value`, is kept working
        let kept = rewrite_sql("select a.value from generate_series(1, 3) a", &[]);
        assert!(
            kept.as_deref().is_none_or(|o| !o.contains("a (a)")),
            "{kept:?}"
        );
        // Grafana's getSchema for an unqualified table name (abridged)
        let sql = "SELECT column_name FROM information_schema.columns WHERE \
                   quote_ident(table_schema) IN (SELECT TRIM(s[i]) FROM generate_series(1, 2) \
                   AS i, string_to_array(current_setting('search_path'), ',') s)";
        let out = rewrite_sql(sql, &[]).unwrap();
        assert!(
            out.ends_with("WHERE (quote_ident(table_schema)) = current_schema()"),
            "{out}"
        );
    }

    #[test]
    fn constraint_views_are_empty_tables() {
        let out = rewrite_sql(
            "select tc.table_name from information_schema.table_constraints tc \
             join information_schema.key_column_usage kc using (constraint_name)",
            &[],
        )
        .unwrap();
        assert!(
            out.contains("CAST(NULL AS INT) AS ordinal_position"),
            "{out}"
        );
        assert!(out.contains("WHERE false) kc"), "{out}");
        assert!(out.contains("AS constraint_type"), "{out}");
    }

    #[test]
    fn search_path_membership_and_comments_plan() {
        let out = rewrite_sql(
            "select case when quote_ident(table_schema) in (select trim(s[i]) from \
             generate_series(1, 2) as i, string_to_array(current_setting('search_path'), ',') s) \
             then 0 else 1 end, col_description(cast(format('%I.%I', a, b) as regclass), 2) \
             from information_schema.tables",
            &[],
        )
        .unwrap();
        assert!(
            out.contains("(quote_ident(table_schema)) = current_schema()"),
            "{out}"
        );
        assert!(out.contains("CAST(NULL AS TEXT)"), "{out}");
        assert!(!out.contains("regclass"), "{out}");
    }

    #[test]
    fn user_select_list_subqueries_are_parenthesised() {
        // out of reach of datafusion-pg-catalog's NULL rule
        let out = rewrite_sql(
            "select a.antenna, (select count(*) from ops.antennas t where t.pad = a.pad) as n \
             from ops.antennas a",
            &[],
        )
        .unwrap();
        assert!(
            out.contains("((SELECT count(*) FROM ops.antennas t WHERE t.pad = a.pad)) AS n"),
            "{out}"
        );
        // catalog queries keep the upstream rules' view of them
        assert_eq!(
            rewrite_sql(
                "select (select typname from pg_catalog.pg_type t where t.oid = a.atttypid) \
                 from pg_catalog.pg_attribute a",
                &[]
            ),
            None
        );
    }

    #[test]
    fn absent_catalog_lookups_are_null_and_keep_their_placeholders() {
        // SQLAlchemy 2.0's column reflection (abridged)
        let sql = "SELECT a.attname, \
            CASE WHEN a.atthasdef THEN (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) \
              FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid) ELSE NULL END AS \"default\", \
            CASE WHEN (a.attidentity != $1::VARCHAR) THEN (SELECT json_build_object($2::VARCHAR, \
              a.attidentity = $3::VARCHAR, $4::VARCHAR, s.seqstart) FROM pg_catalog.pg_sequence s \
              WHERE a.attidentity != $5::VARCHAR) ELSE NULL END AS identity_options, \
            CASE WHEN (a.attcollation != $8::INTEGER AND (SELECT t.typcollation FROM pg_catalog.pg_type t \
              WHERE t.oid = a.atttypid) != a.attcollation) THEN (SELECT json_build_object($9::VARCHAR, \
              c.collname) FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n \
              ON n.oid = c.collnamespace WHERE c.oid = a.attcollation) ELSE NULL END AS collation, \
            CASE WHEN (a.atttypid > $6) THEN (SELECT t.typname FROM pg_catalog.pg_type t \
              WHERE t.oid = a.atttypid) END AS kept \
            FROM pg_catalog.pg_attribute a WHERE a.attnum > $7::SMALLINT";
        let out = rewrite_sql(sql, &[]).unwrap();
        assert!(out.contains("CAST(NULL AS TEXT) AS \"default\""), "{out}");
        assert!(
            !out.contains("pg_attrdef") && !out.contains("pg_sequence"),
            "{out}"
        );
        assert!(!out.contains("pg_collation"), "{out}");
        for p in ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"] {
            assert!(out.contains(p), "{p} lost: {out}");
        }
        assert!(
            out.contains("CAST(CASE WHEN ($1::VARCHAR) IS NULL OR ($2::VARCHAR) IS NULL"),
            "{out}"
        );
        // a lookup in a catalog almasql fills stays
        assert!(out.contains("FROM pg_catalog.pg_type t"), "{out}");
    }

    #[test]
    fn psql_describe_verbose_queries() {
        // psql 15's `\d+` table query: no TOAST options to append
        let out = rewrite_sql(
            "SELECT c.relchecks, pg_catalog.array_to_string(c.reloptions || array(select \
             'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ') \
             FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)",
            &[],
        )
        .unwrap();
        assert!(
            out.contains("pg_catalog.array_to_string(c.reloptions, ', ')"),
            "{out}"
        );
        // its column query: the comment keeps its name beside upstream's NULL
        let out = rewrite_sql(
            "SELECT a.attname, pg_catalog.col_description(a.attrelid, a.attnum) \
             FROM pg_catalog.pg_attribute a",
            &[],
        )
        .unwrap();
        assert!(
            out.contains("CAST(NULL AS TEXT) AS col_description"),
            "{out}"
        );
        // `\d`'s publication query keeps its text (upstream blacklists it)
        assert_eq!(
            rewrite_sql(
                "SELECT pubname, NULL, NULL FROM pg_catalog.pg_publication p UNION \
                 SELECT pubname, NULL, NULL FROM pg_catalog.pg_publication p WHERE \
                 (SELECT count(*) FROM pg_catalog.generate_series(0, 2) s) > 0",
                &[]
            ),
            None
        );
    }

    #[test]
    fn untyped_parameters_tested_for_null_are_text() {
        let out = rewrite_sql(
            "select $1 + 1, $2 is null, $3 is not null",
            &[Some("integer")],
        )
        .unwrap();
        assert!(out.contains("CAST($2 AS TEXT) IS NULL"), "{out}");
        assert!(out.contains("CAST($3 AS TEXT) IS NOT NULL"), "{out}");
        // a declared type is kept
        let out = rewrite_sql("select $1 is null", &[Some("integer")]).unwrap();
        assert!(out.contains("CAST($1 AS INTEGER) IS NULL"), "{out}");
    }

    #[test]
    fn repeated_literals_get_distinct_names() {
        let out = rewrite_sql("select NULL, NULL, x from pg_catalog.pg_proc", &[]).unwrap();
        assert!(
            out.contains(r#"NULL AS "?column?", NULL AS "?column?_2""#),
            "{out}"
        );
    }
}
