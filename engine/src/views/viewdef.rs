//! `pg_get_viewdef`, answered from the views and materialized views of the
//! default catalog.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use datafusion::arrow::array::{AsArray, StringBuilder, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::catalog::{CatalogProvider, CatalogProviderList, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;

use super::default_catalog;
use crate::materialized::MvTable;

/// Registers `pg_get_viewdef(oid [, pretty])` and `pg_get_viewdef(name)`,
/// which psql's `\d+ view` calls: the query of a view or materialized view
/// of the default catalog, found through `pg_catalog.pg_class` (whose OIDs
/// datafusion-pg-catalog assigns).
pub fn register_pg_get_viewdef(ctx: &SessionContext) {
    let udf = PgGetViewdef {
        catalogs: ctx.state().catalog_list().clone(),
        catalog: default_catalog(ctx),
        signature: Signature::variadic_any(Volatility::Stable),
    };
    ctx.register_udf(AsyncScalarUDF::new(Arc::new(udf)).into_scalar_udf());
}

#[derive(Debug)]
struct PgGetViewdef {
    catalogs: Arc<dyn CatalogProviderList>,
    catalog: String,
    signature: Signature,
}

impl PartialEq for PgGetViewdef {
    fn eq(&self, other: &Self) -> bool {
        self.catalog == other.catalog
            && std::ptr::addr_eq(Arc::as_ptr(&self.catalogs), Arc::as_ptr(&other.catalogs))
    }
}

impl Eq for PgGetViewdef {}

impl std::hash::Hash for PgGetViewdef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.catalog.hash(state);
    }
}

impl ScalarUDFImpl for PgGetViewdef {
    fn name(&self) -> &str {
        "pg_get_viewdef"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        if arg_types.is_empty() || arg_types.len() > 2 {
            return Err(DataFusionError::Plan(
                "pg_get_viewdef takes a view's oid or name, and optionally a boolean".to_string(),
            ));
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Err(DataFusionError::Internal(
            "pg_get_viewdef runs asynchronously".to_string(),
        ))
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for PgGetViewdef {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let first = args.args[0].to_array(rows)?;
        let Some(catalog) = self.catalogs.catalog(&self.catalog) else {
            return Ok(ColumnarValue::Array(new_null_array(&DataType::Utf8, rows)));
        };
        let names: Vec<Option<(String, String)>> = match first.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let text = cast(&first, &DataType::Utf8)?;
                text.as_string::<i32>()
                    .iter()
                    .map(|name| {
                        name.map(|n| match n.split_once('.') {
                            Some((s, t)) => (s.to_string(), t.to_string()),
                            None => ("public".to_string(), n.to_string()),
                        })
                    })
                    .collect()
            }
            _ => {
                let oids = cast(&first, &DataType::Int64)?;
                let relations = view_oids(&catalog).await?;
                oids.as_primitive::<Int64Type>()
                    .iter()
                    .map(|oid| oid.and_then(|oid| relations.get(&oid).cloned()))
                    .collect()
            }
        };
        let mut out = StringBuilder::new();
        for name in names {
            let table = match &name {
                Some((schema, table)) => match catalog.schema(schema) {
                    Some(s) => s.table(table).await?,
                    None => None,
                },
                None => None,
            };
            out.append_option(table.and_then(|t| view_query(t.as_ref())));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The views' OIDs in `pg_class`, with their schema and name.
async fn view_oids(catalog: &Arc<dyn CatalogProvider>) -> DfResult<HashMap<i64, (String, String)>> {
    let Some(pg) = catalog.schema("pg_catalog") else {
        return Ok(HashMap::new());
    };
    let (Some(class), Some(namespace)) =
        (pg.table("pg_class").await?, pg.table("pg_namespace").await?)
    else {
        return Ok(HashMap::new());
    };
    let ctx = SessionContext::new();
    ctx.register_table("c", class)?;
    ctx.register_table("n", namespace)?;
    let batches = ctx
        .sql(
            "select cast(c.oid as bigint), n.nspname, c.relname \
             from c join n on c.relnamespace = n.oid where c.relkind = 'v'",
        )
        .await?
        .collect()
        .await?;
    let mut views = HashMap::new();
    for batch in batches {
        let oids = batch.column(0).as_primitive::<Int64Type>();
        let schemas = cast(batch.column(1), &DataType::Utf8)?;
        let names = cast(batch.column(2), &DataType::Utf8)?;
        let (schemas, names) = (schemas.as_string::<i32>(), names.as_string::<i32>());
        for i in 0..batch.num_rows() {
            views.insert(
                oids.value(i),
                (schemas.value(i).to_string(), names.value(i).to_string()),
            );
        }
    }
    Ok(views)
}

/// The query of a view: what follows `AS` in its definition.
fn view_query(table: &dyn TableProvider) -> Option<String> {
    if let Some(mv) = table.downcast_ref::<MvTable>() {
        return Some(mv.state().query.clone());
    }
    let definition = table.get_table_definition()?;
    let dialect = datafusion::sql::sqlparser::dialect::PostgreSqlDialect {};
    let statements = DFParser::parse_sql_with_dialect(definition, &dialect).ok()?;
    match statements.front()? {
        DFStatement::Statement(statement) => match statement.as_ref() {
            SqlStatement::CreateView(create) => Some(create.query.to_string()),
            _ => None,
        },
        _ => None,
    }
}
