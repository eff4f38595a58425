//! Users, roles and what each may see and do.
//!
//! Every connection runs on a [`DfSessionService`] of its own, over a copy
//! of its user's session state (so `SET` changes only that connection),
//! sharing the catalog: the server's, or for a user with restricted
//! access one that shows only what the user may read
//! ([`restricted_context`]). [`AccessHook`] refuses
//! statements that would change sources (for everybody: almasql is
//! read-only over its sources) and view DDL from users who are not admins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::compat::CompatHook;
use super::cursors::CursorHook;
use almasql_engine::access::{AccessPolicy, restricted_context};
use almasql_engine::auth::ScramVerifier;
use almasql_engine::config::{UserConfig, UserRole};
use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::execution::TaskContext;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{ObjectType, Statement};
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::{DfSessionService, pgwire};
use pgwire::api::ClientInfo;
use pgwire::api::results::Response;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use super::sqlstate::INSUFFICIENT_PRIVILEGE;

struct Account {
    verifier: ScramVerifier,
    role: UserRole,
    policy: AccessPolicy,
}

/// The configured users and a session service per distinct access policy.
pub struct Users {
    base: Arc<SessionContext>,
    database: String,
    accounts: HashMap<String, Account>,
    hook: Arc<AccessHook>,
    everything: Arc<DfSessionService>,
    restricted: Mutex<HashMap<String, Arc<SessionContext>>>,
}

impl Users {
    /// Users from the configuration; none means password-less login with
    /// full rights (the loopback-only embedded default).
    pub fn new(base: Arc<SessionContext>, database: &str, users: &[UserConfig]) -> Self {
        let accounts = users
            .iter()
            .map(|u| {
                let verifier = ScramVerifier::parse(&u.password)
                    .expect("verifiers are checked when the configuration is read");
                (
                    u.name.clone(),
                    Account {
                        verifier,
                        role: u.role,
                        policy: u.access(),
                    },
                )
            })
            .collect::<HashMap<_, _>>();
        let roles: Arc<HashMap<String, UserRole>> = Arc::new(
            accounts
                .iter()
                .map(|(name, a)| (name.clone(), a.role))
                .collect(),
        );
        let hook = Arc::new(AccessHook { roles });
        Self {
            everything: Arc::new(service(base.clone(), hook.clone())),
            hook,
            base,
            database: database.to_string(),
            accounts,
            restricted: Mutex::new(HashMap::new()),
        }
    }

    /// A parser for describing statements (their plans are already made).
    pub fn parser(&self) -> Arc<datafusion_postgres::Parser> {
        use pgwire::api::query::ExtendedQueryHandler;
        self.everything.query_parser()
    }

    /// Whether logins need no password (no users configured).
    pub fn is_trust(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The verifier of `user`, if there is such a user.
    pub fn verifier(&self, user: &str) -> Option<ScramVerifier> {
        self.accounts.get(user).map(|a| a.verifier.clone())
    }

    /// The session service of the client's connection, made on its first
    /// statement.
    pub fn service_for<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
    ) -> PgWireResult<Arc<DfSessionService>> {
        Ok(self.connection(client)?.service.clone())
    }

    /// The client's connection: its session service and session, made on
    /// its first statement.
    pub fn connection<C: ClientInfo + ?Sized>(&self, client: &C) -> PgWireResult<Arc<Connection>> {
        if let Some(found) = client.session_extensions().get::<Connection>() {
            return Ok(found);
        }
        let user = client.metadata().get("user").map(String::as_str);
        let ctx = self.user_context(user)?;
        // plans are shared by the connections of one catalog and user
        // until a connection changes its settings
        let shared_scope = format!("{:p}/{}", Arc::as_ptr(&ctx), user.unwrap_or(""));
        let own = Arc::new(SessionContext::new_with_state(ctx.state()));
        let created = Connection {
            service: Arc::new(service(own.clone(), self.hook.clone())),
            ctx: own,
            scope: Mutex::new(shared_scope.into()),
            kept: Mutex::new(None),
        };
        Ok(client
            .session_extensions()
            .get_or_insert_with(move || created))
    }

    /// The session whose catalog the user sees.
    fn user_context(&self, user: Option<&str>) -> PgWireResult<Arc<SessionContext>> {
        if self.is_trust() {
            return Ok(self.base.clone());
        }
        let Some((user, account)) = user.and_then(|u| self.accounts.get(u).map(|a| (u, a))) else {
            return Err(denied("no such user"));
        };
        if account.policy.is_unrestricted() {
            return Ok(self.base.clone());
        }
        let mut restricted = self.restricted.lock().expect("lock");
        if let Some(found) = restricted.get(user) {
            return Ok(found.clone());
        }
        let ctx = restricted_context(&self.base, &self.database, account.policy.clone())
            .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
        let ctx = Arc::new(ctx);
        restricted.insert(user.to_string(), ctx.clone());
        Ok(ctx)
    }

    /// Whether the client's user may create and drop views.
    pub fn is_admin<C: ClientInfo + ?Sized>(&self, client: &C) -> bool {
        self.is_trust()
            || client
                .metadata()
                .get("user")
                .and_then(|u| self.accounts.get(u))
                .is_some_and(|a| a.role == UserRole::Admin)
    }
}

/// A connection's session service and session, kept in its session
/// extensions.
pub struct Connection {
    pub service: Arc<DfSessionService>,
    /// The connection's own session (its `SET`s change only it).
    pub ctx: Arc<SessionContext>,
    /// The scope of its plans in the server's plan cache.
    scope: Mutex<Arc<str>>,
    /// The session's state as the plan path last copied it.
    kept: Mutex<Option<Snapshot>>,
}

/// A copy of a session's state, and a task context made from it.
#[derive(Clone)]
pub struct Snapshot {
    pub state: Arc<SessionState>,
    pub task_ctx: Arc<TaskContext>,
}

impl Snapshot {
    /// The state of `ctx` now (with `now()` at this moment).
    pub fn of(ctx: &SessionContext) -> Self {
        let state = ctx.state();
        Self {
            task_ctx: state.task_ctx(),
            state: Arc::new(state),
        }
    }
}

impl Connection {
    /// The connection's statement parser.
    pub fn parser(&self) -> Arc<datafusion_postgres::Parser> {
        use pgwire::api::query::ExtendedQueryHandler;
        self.service.query_parser()
    }

    /// The scope of this connection's plans in the plan cache: shared with
    /// the other connections of its user until it changes a setting.
    pub fn plan_scope(&self) -> Arc<str> {
        self.scope.lock().expect("lock").clone()
    }

    /// The session's state for a statement on the plan path. Copying a
    /// `SessionState` (and making a `TaskContext`) copies every function
    /// map, which was a fifth of the server's CPU time under `select 1`
    /// from 32 clients; the copy is kept until a statement off the plan
    /// path runs ([`Connection::forget_state`]), since only those (`SET`,
    /// ...) change the session. Its query start time is that of the copy:
    /// a plan with `now()` takes [`Snapshot::of`] instead.
    pub fn state(&self) -> Snapshot {
        self.kept
            .lock()
            .expect("lock")
            .get_or_insert_with(|| Snapshot::of(&self.ctx))
            .clone()
    }

    /// Drops the kept state, after a statement that may have changed the
    /// session ran.
    pub fn forget_state(&self) {
        *self.kept.lock().expect("lock") = None;
    }

    /// Records that a statement may have changed the session's settings
    /// (`SET`, `RESET`, ...): its later plans are its own.
    pub fn settings_changed(&self) {
        self.forget_state();
        static CHANGES: AtomicU64 = AtomicU64::new(0);
        let n = CHANGES.fetch_add(1, Ordering::Relaxed);
        let mut scope = self.scope.lock().expect("lock");
        let shared = scope.split('#').next().unwrap_or_default().to_string();
        *scope = format!("{shared}#{n}").into();
    }
}

fn service(ctx: Arc<SessionContext>, access: Arc<AccessHook>) -> DfSessionService {
    DfSessionService::new_with_hooks(
        ctx,
        vec![
            access,
            Arc::new(CompatHook),
            Arc::new(CursorHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ],
    )
}

/// An `ERROR` with SQLSTATE 42501.
pub fn denied(message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        INSUFFICIENT_PRIVILEGE.to_string(),
        message.into(),
    )))
}

/// What a statement does, as far as permissions go.
enum Kind {
    Read,
    ViewDdl,
    Write(&'static str),
}

fn kind(statement: &Statement) -> Kind {
    match statement {
        Statement::Query(_)
        | Statement::Explain { .. }
        | Statement::ExplainTable { .. }
        | Statement::Set(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowDatabases { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::Reset(_)
        | Statement::Deallocate { .. }
        | Statement::Prepare { .. }
        | Statement::Execute { .. } => Kind::Read,
        Statement::Copy { to: true, .. } => Kind::Read,
        Statement::CreateView { .. } | Statement::CreateSchema { .. } => Kind::ViewDdl,
        Statement::Drop {
            object_type: ObjectType::View | ObjectType::MaterializedView,
            ..
        } => Kind::ViewDdl,
        Statement::Insert(_) => Kind::Write("INSERT"),
        Statement::Update { .. } => Kind::Write("UPDATE"),
        Statement::Delete(_) => Kind::Write("DELETE"),
        Statement::Copy { .. } => Kind::Write("COPY FROM"),
        Statement::CreateTable(_) => Kind::Write("CREATE TABLE"),
        Statement::Truncate { .. } => Kind::Write("TRUNCATE"),
        Statement::Drop { .. } => Kind::Write("DROP"),
        _ => Kind::Write("this statement"),
    }
}

/// Checks a statement against the user's role.
pub fn check_statement(statement: &Statement, admin: bool) -> PgWireResult<()> {
    match kind(statement) {
        Kind::Read => Ok(()),
        Kind::ViewDdl if admin => Ok(()),
        Kind::ViewDdl => Err(denied(
            "permission denied: only admin users may create or drop views and schemas",
        )),
        Kind::Write(what) => Err(denied(format!(
            "permission denied: almasql is read-only over its sources ({what} is not allowed)"
        ))),
    }
}

/// Refuses statements the user may not run, before anything is planned.
pub struct AccessHook {
    roles: Arc<HashMap<String, UserRole>>,
}

impl AccessHook {
    fn is_admin(&self, client: &(dyn ClientInfo + Send + Sync)) -> bool {
        self.roles.is_empty()
            || client
                .metadata()
                .get("user")
                .and_then(|u| self.roles.get(u))
                .is_some_and(|r| *r == UserRole::Admin)
    }
}

#[async_trait]
impl QueryHook for AccessHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let admin = self.is_admin(&*client);
        check_statement(statement, admin).err().map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        check_statement(statement, self.is_admin(client))
            .err()
            .map(Err)
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}
