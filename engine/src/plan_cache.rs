//! Plans kept between statements, so a statement seen before is not parsed,
//! planned and optimized again: a dashboard wall or a pool of prepared
//! statements sends the same few texts thousands of times.
//!
//! A [`PlanCache`] maps a statement's text (within a scope the caller
//! chooses: user, session settings, declared parameter types) to a
//! [`CachedPlan`]: the parsed statement, its logical plan with placeholders
//! and, once asked for, its optimized plan. An entry stays valid while every
//! table the statement names resolves to the same provider it was planned
//! with, so a `DROP VIEW`/`CREATE VIEW`, a re-registered source or a
//! materialized view whose schema changed is planned afresh, whoever changed
//! the catalog. The optimized plan is reused only when every function in it
//! is immutable: the optimizer folds `now()` and its kin into constants.
//!
//! [`bind`] substitutes parameter values into an optimized plan and
//! [`execute`] makes the physical plan without running the optimizer again
//! (`SessionState::create_physical_plan` would).
//!
//! ```
//! # use almasql_engine::plan_cache::{PlanCache, PlanKey, CachedPlan, execute};
//! # use datafusion::prelude::SessionContext;
//! # use datafusion::sql::parser::Statement;
//! # tokio_test_block(async {
//! let ctx = SessionContext::new();
//! let cache = PlanCache::new(16);
//! let key = PlanKey::new("default", "select 1 + 1 as two");
//! let state = ctx.state();
//! let dialect = datafusion::config::Dialect::PostgreSQL;
//! let statement = state.sql_to_statement("select 1 + 1 as two", &dialect)?;
//! let Statement::Statement(ast) = &statement else { unreachable!() };
//! let plan = state.statement_to_plan(statement.clone()).await?;
//! let entry = CachedPlan::new(&state, (**ast).clone(), plan).await;
//! cache.insert(key.clone(), entry.clone());
//! let found = cache.get(&state, &key).await.expect("cached");
//! let optimized = found.optimized(&state)?;
//! let stream = execute(&state, state.task_ctx(), &optimized).await?;
//! let batches = datafusion::physical_plan::common::collect(stream).await?;
//! assert_eq!(batches[0].num_rows(), 1);
//! # Ok::<_, datafusion::error::DataFusionError>(())
//! # });
//! # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Runtime::new().unwrap().block_on(f)
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::catalog::TableProvider;
use datafusion::common::metadata::ScalarAndMetadata;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{ParamValues, ResolvedTableReference};
use datafusion::error::Result;
use datafusion::execution::context::SessionState;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, Volatility};
use datafusion::optimizer::Optimizer;
use datafusion::optimizer::simplify_expressions::SimplifyExpressions;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;

/// What a cached plan is found by: a scope chosen by the caller (whose
/// catalog, which session settings) and the statement's text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanKey {
    scope: Arc<str>,
    sql: Arc<str>,
}

impl PlanKey {
    /// The key of `sql` planned within `scope`.
    pub fn new(scope: impl Into<Arc<str>>, sql: impl Into<Arc<str>>) -> Self {
        Self {
            scope: scope.into(),
            sql: sql.into(),
        }
    }
}

/// A bounded cache of statement plans, shared by all sessions.
pub struct PlanCache {
    entries: moka::sync::Cache<PlanKey, Arc<CachedPlan>>,
    enabled: bool,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for PlanCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanCache")
            .field("entries", &self.entries.entry_count())
            .field("hits", &self.hits.load(Ordering::Relaxed))
            .field("misses", &self.misses.load(Ordering::Relaxed))
            .finish()
    }
}

impl PlanCache {
    /// A cache of at most `capacity` plans (least recently used go first);
    /// 0 keeps none.
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::new(capacity),
            enabled: capacity > 0,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Whether plans are kept at all (a capacity above 0).
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The plan of `key` if it is cached and still current in `state`'s
    /// catalog; a stale entry is dropped.
    pub async fn get(&self, state: &SessionState, key: &PlanKey) -> Option<Arc<CachedPlan>> {
        let Some(found) = self.entries.get(key) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        if found.is_current(state).await {
            self.hits.fetch_add(1, Ordering::Relaxed);
            Some(found)
        } else {
            self.entries.invalidate(key);
            self.misses.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Keeps `plan` under `key`, if it can be checked for staleness.
    pub fn insert(&self, key: PlanKey, plan: Arc<CachedPlan>) {
        if plan.cacheable() {
            self.entries.insert(key, plan);
        }
    }

    /// Lookups that found a current plan, and those that did not.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

/// One statement's plans.
pub struct CachedPlan {
    /// The statement as parsed.
    pub statement: Statement,
    /// The statement printed again (what a prepared statement's text is).
    pub text: String,
    /// Its logical plan as planned from SQL, with placeholders.
    pub plan: LogicalPlan,
    /// The providers of the tables it names, as they were at planning;
    /// `None` if one of them cannot be pinned (a catalog table made anew
    /// at every lookup, a missing table).
    tables: Option<Vec<(ResolvedTableReference, Arc<dyn TableProvider>)>>,
    /// Whether the optimized plan may be reused (all functions immutable).
    reusable: bool,
    optimized: Mutex<Option<Arc<LogicalPlan>>>,
}

impl CachedPlan {
    /// The plans of `statement`, planned as `plan` in `state`.
    pub async fn new(state: &SessionState, statement: Statement, plan: LogicalPlan) -> Arc<Self> {
        let tables = pin_tables(state, &statement).await;
        let reusable = only_immutable_functions(&plan);
        Arc::new(Self {
            text: statement.to_string(),
            statement,
            plan,
            tables,
            reusable,
            optimized: Mutex::new(None),
        })
    }

    /// Whether the plan can be kept (its tables can be checked).
    pub fn cacheable(&self) -> bool {
        self.tables.is_some()
    }

    /// Whether its optimized plan is reused: every function in it is
    /// immutable (no `now()`), so it does not depend on the query's start
    /// time.
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Whether every table still resolves to the provider planned with.
    async fn is_current(&self, state: &SessionState) -> bool {
        let Some(tables) = &self.tables else {
            return false;
        };
        for (name, planned) in tables {
            match lookup(state, name).await {
                Some(now) if same_provider(&now, planned) => {}
                _ => return false,
            }
        }
        true
    }

    /// The optimized plan (with the placeholders still in it): optimized
    /// once and kept if it may be reused, else optimized now.
    pub fn optimized(&self, state: &SessionState) -> Result<Arc<LogicalPlan>> {
        if self.reusable
            && let Some(found) = self.optimized.lock().expect("lock").as_ref()
        {
            return Ok(found.clone());
        }
        let optimized = Arc::new(state.optimize(&self.plan)?);
        if self.reusable {
            *self.optimized.lock().expect("lock") = Some(optimized.clone());
        }
        Ok(optimized)
    }
}

/// The providers of the tables `statement` names, or `None` if one of
/// them is missing or not the same object at a second lookup.
async fn pin_tables(
    state: &SessionState,
    statement: &Statement,
) -> Option<Vec<(ResolvedTableReference, Arc<dyn TableProvider>)>> {
    let statement = DfStatement::Statement(Box::new(statement.clone()));
    let references = state.resolve_table_references(&statement).ok()?;
    let mut pinned = Vec::with_capacity(references.len());
    for reference in references {
        let catalog = &state.config_options().catalog;
        let name = reference.resolve(&catalog.default_catalog, &catalog.default_schema);
        let provider = lookup(state, &name).await?;
        let again = lookup(state, &name).await?;
        if !same_provider(&provider, &again) {
            return None;
        }
        pinned.push((name, provider));
    }
    Some(pinned)
}

async fn lookup(
    state: &SessionState,
    name: &ResolvedTableReference,
) -> Option<Arc<dyn TableProvider>> {
    let schema = state.schema_for_ref(name.clone()).ok()?;
    schema.table(&name.table).await.ok().flatten()
}

fn same_provider(a: &Arc<dyn TableProvider>, b: &Arc<dyn TableProvider>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// Whether every scalar function of `plan` (subqueries included) is
/// immutable, so that its optimized form holds no folded `now()`.
fn only_immutable_functions(plan: &LogicalPlan) -> bool {
    let mut immutable = true;
    let _ = plan.apply_with_subqueries(|node| {
        for expr in node.expressions() {
            let _ = expr.apply(|e| {
                if let Expr::ScalarFunction(f) = e
                    && f.func.signature().volatility != Volatility::Immutable
                {
                    immutable = false;
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(if immutable {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    immutable
}

/// `plan` with `params` in place of its placeholders, each value cast to
/// its placeholder's type, and its expressions simplified again (a bound
/// `CAST($1 AS timestamp)` becomes a literal the scans can prune with).
pub fn bind(plan: &LogicalPlan, params: &ParamValues, state: &SessionState) -> Result<LogicalPlan> {
    let types = placeholder_types(plan);
    if types.is_empty() {
        return Ok(plan.clone());
    }
    let params = match params {
        ParamValues::List(values) => ParamValues::List(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let id = format!("${}", i + 1);
                    match types.iter().find(|(p, _)| *p == id) {
                        Some((_, Some(ty))) if v.value().data_type() != *ty => Ok(
                            ScalarAndMetadata::new(v.value().cast_to(ty)?, v.metadata().cloned()),
                        ),
                        _ => Ok(v.clone()),
                    }
                })
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    };
    let bound = plan.clone().replace_params_with_values(&params)?;
    Optimizer::with_rules(vec![Arc::new(SimplifyExpressions::new())]).optimize(
        bound,
        state,
        |_, _| {},
    )
}

/// The placeholders of `plan` with the types the plan gives them.
fn placeholder_types(
    plan: &LogicalPlan,
) -> Vec<(String, Option<datafusion::arrow::datatypes::DataType>)> {
    let mut found: Vec<(String, Option<_>)> = vec![];
    let _ = plan.apply_with_subqueries(|node| {
        for expr in node.expressions() {
            let _ = expr.apply(|e| {
                if let Expr::Placeholder(p) = e
                    && !found.iter().any(|(id, _)| *id == p.id)
                {
                    found.push((
                        p.id.clone(),
                        p.field.as_ref().map(|f| f.data_type().clone()),
                    ));
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Runs an optimized logical plan: physical planning only, no second pass
/// of the optimizer. `task_ctx` is made from `state` (a caller that runs
/// many statements in one state can make it once).
pub async fn execute(
    state: &SessionState,
    task_ctx: Arc<TaskContext>,
    plan: &LogicalPlan,
) -> Result<SendableRecordBatchStream> {
    let physical = state
        .query_planner()
        .create_physical_plan(plan, state)
        .await?;
    datafusion::physical_plan::execute_stream(physical, task_ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    fn table(values: &[i64]) -> Arc<MemTable> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(values.to_vec()))],
        )
        .unwrap();
        Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())
    }

    fn context(values: &[i64]) -> SessionContext {
        let ctx = SessionContext::new();
        ctx.register_table("t", table(values)).unwrap();
        ctx
    }

    async fn planned(ctx: &SessionContext, sql: &str) -> Arc<CachedPlan> {
        let state = ctx.state();
        let statement = state
            .sql_to_statement(sql, &datafusion::config::Dialect::PostgreSQL)
            .unwrap();
        let DfStatement::Statement(ast) = &statement else {
            panic!("{sql}: not a statement")
        };
        let plan = state.statement_to_plan(statement.clone()).await.unwrap();
        CachedPlan::new(&state, (**ast).clone(), plan).await
    }

    async fn values(state: &SessionState, plan: &LogicalPlan) -> Vec<i64> {
        let stream = execute(state, state.task_ctx(), plan).await.unwrap();
        let batches = datafusion::physical_plan::common::collect(stream)
            .await
            .unwrap();
        let mut out = vec![];
        for b in batches {
            let col = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            out.extend((0..col.len()).map(|i| col.value(i)));
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn a_plan_is_reused_until_its_table_is_replaced() {
        let ctx = context(&[1, 2, 3]);
        let cache = PlanCache::new(8);
        let key = PlanKey::new("s", "select x from t");
        cache.insert(key.clone(), planned(&ctx, "select x from t").await);

        let state = ctx.state();
        let found = cache.get(&state, &key).await.expect("cached");
        let first = found.optimized(&state).unwrap();
        let again = found.optimized(&state).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "optimized once");
        assert_eq!(values(&state, &first).await, [1, 2, 3]);
        assert_eq!(cache.hits_and_misses(), (1, 0));

        // another key (scope) is another plan
        assert!(
            cache
                .get(&state, &PlanKey::new("other", "select x from t"))
                .await
                .is_none()
        );

        ctx.deregister_table("t").unwrap();
        ctx.register_table("t", table(&[10])).unwrap();
        let state = ctx.state();
        assert!(
            cache.get(&state, &key).await.is_none(),
            "stale plan dropped"
        );
        assert_eq!(cache.hits_and_misses(), (1, 2));
        let fresh = planned(&ctx, "select x from t").await;
        assert_eq!(
            values(&state, &fresh.optimized(&state).unwrap()).await,
            [10]
        );
    }

    #[tokio::test]
    async fn plans_calling_now_are_optimized_at_every_execution() {
        let ctx = context(&[1]);
        let state = ctx.state();
        let timed = planned(&ctx, "select x, now() from t").await;
        let a = timed.optimized(&state).unwrap();
        let b = timed.optimized(&state).unwrap();
        assert!(!Arc::ptr_eq(&a, &b), "now() must be folded per execution");

        let fixed = planned(&ctx, "select x + 1 from t").await;
        let a = fixed.optimized(&state).unwrap();
        let b = fixed.optimized(&state).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[tokio::test]
    async fn bind_substitutes_parameters_cast_to_their_types() {
        let ctx = context(&[1, 2, 3]);
        let state = ctx.state();
        let entry = planned(&ctx, "select x from t where x > $1").await;
        let optimized = entry.optimized(&state).unwrap();
        // an Int32 value for an Int64 placeholder
        for (bound, expected) in [(0, vec![1, 2, 3]), (1, vec![2, 3]), (3, vec![])] {
            let params = ParamValues::from(vec![ScalarValue::Int32(Some(bound))]);
            let plan = bind(&optimized, &params, &state).unwrap();
            assert_eq!(values(&state, &plan).await, expected, "x > {bound}");
        }
    }

    #[tokio::test]
    async fn catalog_tables_made_at_every_lookup_are_not_kept() {
        let ctx = SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new().with_information_schema(true),
        );
        let entry = planned(&ctx, "select table_name from information_schema.tables").await;
        assert!(!entry.cacheable());
        let cache = PlanCache::new(8);
        let key = PlanKey::new("s", "q");
        cache.insert(key.clone(), entry);
        assert!(cache.get(&ctx.state(), &key).await.is_none());
        assert!(!PlanCache::new(0).is_enabled());
    }
}
