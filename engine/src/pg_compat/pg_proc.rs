//! almasql's own functions in `pg_catalog.pg_proc`, in the `public`
//! schema, so psql's `\df` and pgjdbc's `getFunctions` (DBeaver's function
//! list) show them next to PostgreSQL's built-ins, and
//! `pg_get_function_arguments` / `pg_get_function_result` describe them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::datasource::{MemTable, TableType};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, collect};

use super::catalog_functions::builtin_type_oid;
use super::type_names::pg_type_names;

/// The first oid given to almasql's functions, far above PostgreSQL's and
/// datafusion-pg-catalog's.
const FIRST_OID: i32 = 1_000_000;

/// One almasql function as `pg_proc` shows it.
#[derive(Debug, Clone)]
pub struct ProcEntry {
    /// Its oid.
    pub oid: i32,
    /// Its SQL name.
    pub name: String,
    /// `f` (scalar), `a` (aggregate) or `w` (window); table functions are
    /// `f` returning a set.
    pub kind: char,
    /// Whether it returns a set (table functions).
    pub returns_set: bool,
    /// The arguments, from the syntax in its documentation.
    pub arguments: String,
    /// The argument count.
    pub nargs: i16,
    /// The PostgreSQL name of its result type, when it can be told.
    pub result: Option<String>,
}

/// The `pg_proc` entries of almasql's domain functions.
pub fn proc_entries() -> Vec<ProcEntry> {
    almasql_udfs::all_functions()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let arguments = f
                .documentation()
                .and_then(|d| {
                    let s = &d.syntax_example;
                    Some(s[s.find('(')? + 1..s.rfind(')')?].to_string())
                })
                .unwrap_or_default();
            let nargs = f
                .documentation()
                .and_then(|d| d.arguments.as_ref())
                .map_or(0, |a| a.len() as i16);
            let (kind, returns_set, result) = match f {
                almasql_udfs::AlmaFunction::Scalar(u) => {
                    ('f', false, result_type(u.signature(), |t| u.return_type(t)))
                }
                almasql_udfs::AlmaFunction::Aggregate(u) => {
                    ('a', false, result_type(u.signature(), |t| u.return_type(t)))
                }
                almasql_udfs::AlmaFunction::Window(_) => ('w', false, None),
                almasql_udfs::AlmaFunction::Table(_) => ('f', true, Some("record".to_string())),
            };
            ProcEntry {
                oid: FIRST_OID + i as i32,
                name: f.name().to_string(),
                kind,
                returns_set,
                arguments,
                nargs,
                result,
            }
        })
        .collect()
}

/// The PostgreSQL name of a function's result for its first example
/// argument types.
fn result_type(
    signature: &Signature,
    return_type: impl Fn(&[DataType]) -> Result<DataType>,
) -> Option<String> {
    let example = signature
        .type_signature
        .get_example_types()
        .into_iter()
        .next()?;
    let t = return_type(&example).ok()?;
    Some(pg_type_names(&t).0)
}

/// A `pg_catalog` schema whose `pg_proc` also lists almasql's functions.
pub struct PgCatalogWithFunctions {
    inner: Arc<dyn SchemaProvider>,
    entries: Arc<Vec<ProcEntry>>,
}

impl fmt::Debug for PgCatalogWithFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCatalogWithFunctions")
            .field("functions", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl PgCatalogWithFunctions {
    /// Wraps the `pg_catalog` schema `inner`.
    pub fn new(inner: Arc<dyn SchemaProvider>, entries: Arc<Vec<ProcEntry>>) -> Self {
        Self { inner, entries }
    }
}

#[async_trait]
impl SchemaProvider for PgCatalogWithFunctions {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.inner.table(name).await?;
        if name == "pg_class" {
            return Ok(table.map(|t| Arc::new(PgClass::new(t)) as Arc<dyn TableProvider>));
        }
        if name != "pg_proc" {
            return Ok(table);
        }
        Ok(table.map(|builtin| {
            Arc::new(PgProc {
                builtin,
                catalog: self.inner.clone(),
                entries: self.entries.clone(),
            }) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// datafusion-pg-catalog's `pg_class` with the `reloptions` column (`text[]`)
/// it lacks, NULL for every relation: almasql has no storage options.
/// psql's `\d+` and DBeaver's table properties read it.
#[derive(Debug)]
struct PgClass {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
}

impl PgClass {
    fn new(inner: Arc<dyn TableProvider>) -> Self {
        let mut fields = inner.schema().fields().to_vec();
        if inner.schema().column_with_name("reloptions").is_none() {
            let text_array = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
            fields.push(Arc::new(Field::new("reloptions", text_array, true)));
        }
        Self {
            schema: Arc::new(Schema::new(fields)),
            inner,
        }
    }
}

#[async_trait]
impl TableProvider for PgClass {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let width = self.inner.schema().fields().len();
        if width == self.schema.fields().len()
            || projection.is_some_and(|p| p.iter().all(|&i| i < width))
        {
            return self.inner.scan(state, projection, filters, limit).await;
        }
        // a few hundred rows: read them, add the column
        let plan = self.inner.scan(state, None, &[], None).await?;
        let batches = collect(plan, state.task_ctx())
            .await?
            .into_iter()
            .map(|b| {
                let mut columns = b.columns().to_vec();
                columns.push(new_null_array(
                    self.schema.field(width).data_type(),
                    b.num_rows(),
                ));
                RecordBatch::try_new(self.schema.clone(), columns)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        MemTable::try_new(self.schema.clone(), vec![batches])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// PostgreSQL's `pg_proc` rows followed by almasql's.
struct PgProc {
    builtin: Arc<dyn TableProvider>,
    catalog: Arc<dyn SchemaProvider>,
    entries: Arc<Vec<ProcEntry>>,
}

impl fmt::Debug for PgProc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgProc")
            .field("functions", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl PgProc {
    /// The oid of the `public` schema in this session's `pg_namespace`.
    async fn public_oid(&self, state: &dyn Session) -> Result<i32> {
        let Some(namespaces) = self.catalog.table("pg_namespace").await? else {
            return exec_err!("pg_catalog.pg_namespace is missing");
        };
        let plan = namespaces.scan(state, None, &[], None).await?;
        for batch in collect(plan, state.task_ctx()).await? {
            let names = cast(
                batch.column_by_name("nspname").expect("nspname"),
                &DataType::Utf8,
            )?;
            let oids = cast(batch.column_by_name("oid").expect("oid"), &DataType::Int32)?;
            let names = names.as_string::<i32>();
            let oids = oids.as_primitive::<Int32Type>();
            if let Some(i) = (0..names.len()).find(|i| names.value(*i) == "public") {
                return Ok(oids.value(i));
            }
        }
        exec_err!("no public schema in pg_catalog.pg_namespace")
    }

    /// almasql's rows, in `schema`.
    fn batch(&self, schema: &SchemaRef, namespace: i32) -> Result<RecordBatch> {
        let e = self.entries.as_ref();
        let text = |f: &dyn Fn(&ProcEntry) -> Option<String>| -> Vec<ScalarValue> {
            e.iter().map(|p| ScalarValue::Utf8(f(p))).collect()
        };
        let int = |f: &dyn Fn(&ProcEntry) -> i64| -> Vec<ScalarValue> {
            e.iter().map(|p| ScalarValue::Int64(Some(f(p)))).collect()
        };
        let columns = schema
            .fields()
            .iter()
            .map(|field| {
                let values = match field.name().as_str() {
                    "oid" => int(&|p| p.oid.into()),
                    "proname" | "prosrc" => text(&|p| Some(p.name.clone())),
                    "pronamespace" => int(&|_| namespace.into()),
                    "proowner" => int(&|_| 10),
                    "prolang" => int(&|_| 12),
                    "procost" => int(&|_| 1),
                    "prorows" => int(&|p| if p.returns_set { 1000 } else { 0 }),
                    "provariadic" | "pronargdefaults" => int(&|_| 0),
                    "prosupport" => text(&|_| Some("-".into())),
                    "prokind" => text(&|p| Some(p.kind.to_string())),
                    "prosecdef" | "proleakproof" | "proisstrict" => e
                        .iter()
                        .map(|_| ScalarValue::Boolean(Some(false)))
                        .collect(),
                    "proretset" => e
                        .iter()
                        .map(|p| ScalarValue::Boolean(Some(p.returns_set)))
                        .collect(),
                    "provolatile" => text(&|_| Some("i".into())),
                    "proparallel" => text(&|_| Some("s".into())),
                    "pronargs" => int(&|p| p.nargs.into()),
                    "prorettype" => int(&|p| {
                        p.result
                            .as_deref()
                            .and_then(builtin_type_oid)
                            .unwrap_or(0)
                            .into()
                    }),
                    "proargtypes" => text(&|_| Some(String::new())),
                    "proargnames" => text(&|p| Some(format!("{{{}}}", p.arguments))),
                    _ => text(&|_| None),
                };
                let array: ArrayRef = ScalarValue::iter_to_array(values)?;
                Ok(cast(&array, field.data_type())?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

#[async_trait]
impl TableProvider for PgProc {
    fn schema(&self) -> SchemaRef {
        self.builtin.schema()
    }

    fn table_type(&self) -> TableType {
        self.builtin.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let builtin = self.builtin.scan(state, projection, filters, limit).await?;
        let schema = self.schema();
        let ours = self.batch(&schema, self.public_oid(state).await?)?;
        let ours = MemTable::try_new(schema, vec![vec![ours]])?
            .scan(state, projection, filters, limit)
            .await?;
        UnionExec::try_new(vec![builtin, ours])
    }
}

/// `pg_get_function_result(oid)` / `pg_get_function_arguments(oid)` (and
/// `pg_get_function_identity_arguments`): the description of one of
/// almasql's functions, NULL for the built-ins.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FunctionDescriptionFunc {
    name: &'static str,
    signature: Signature,
    /// The text of each function by oid (built once: looked up per row).
    texts: BTreeMap<i32, String>,
}

impl FunctionDescriptionFunc {
    /// The function `name` answering `text(entry)` for each entry.
    pub fn new(
        name: &'static str,
        entries: &[ProcEntry],
        text: impl Fn(&ProcEntry) -> Option<String>,
    ) -> Self {
        Self {
            name,
            signature: Signature::any(1, Volatility::Stable),
            texts: entries
                .iter()
                .filter_map(|e| Some((e.oid, text(e)?)))
                .collect(),
        }
    }
}

impl ScalarUDFImpl for FunctionDescriptionFunc {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let oids = cast(&args.args[0].to_array(args.number_rows)?, &DataType::Int32)?;
        let oids = oids.as_primitive::<Int32Type>();
        let values = (0..oids.len()).map(|i| {
            if oids.is_null(i) {
                None
            } else {
                self.texts.get(&oids.value(i)).map(String::as_str)
            }
        });
        Ok(ColumnarValue::Array(Arc::new(
            datafusion::arrow::array::StringArray::from_iter(values),
        )))
    }
}
