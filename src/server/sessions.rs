//! Who is connected and what they run: the `almasql.sessions` table.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, Int32Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

/// One connected client.
#[derive(Debug, Clone)]
struct SessionInfo {
    user: String,
    client_addr: SocketAddr,
    application_name: Option<String>,
    backend_start: DateTime<Utc>,
    query: Option<String>,
    query_start: Option<DateTime<Utc>>,
    state: &'static str,
}

/// The connected sessions by backend pid, and the count of open
/// connections (including those still logging in).
#[derive(Default)]
pub struct SessionRegistry {
    sessions: Mutex<BTreeMap<i32, SessionInfo>>,
    open: AtomicUsize,
}

impl fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRegistry")
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Counts a connection as open until dropped.
pub struct OpenConnection(Arc<SessionRegistry>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Removes a session from the registry when its connection ends.
pub struct SessionGuard {
    registry: Arc<SessionRegistry>,
    pid: i32,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.registry
            .sessions
            .lock()
            .expect("lock")
            .remove(&self.pid);
    }
}

impl SessionRegistry {
    /// Counts a new connection; the count includes it.
    pub fn open_connection(self: &Arc<Self>) -> (OpenConnection, usize) {
        let n = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        (OpenConnection(self.clone()), n)
    }

    /// Records a logged-in session.
    pub fn login(
        self: &Arc<Self>,
        pid: i32,
        user: &str,
        client_addr: SocketAddr,
        application_name: Option<&str>,
    ) -> SessionGuard {
        self.sessions.lock().expect("lock").insert(
            pid,
            SessionInfo {
                user: user.to_string(),
                client_addr,
                application_name: application_name.map(str::to_string),
                backend_start: Utc::now(),
                query: None,
                query_start: None,
                state: "idle",
            },
        );
        SessionGuard {
            registry: self.clone(),
            pid,
        }
    }

    /// Marks `pid` as running `query`.
    pub fn query_started(&self, pid: i32, query: &str) {
        if let Some(s) = self.sessions.lock().expect("lock").get_mut(&pid) {
            s.query = Some(query.to_string());
            s.query_start = Some(Utc::now());
            s.state = "active";
        }
    }

    /// Marks `pid` as idle (its last query stays visible).
    pub fn query_finished(&self, pid: i32) {
        if let Some(s) = self.sessions.lock().expect("lock").get_mut(&pid) {
            s.state = "idle";
        }
    }

    fn schema() -> SchemaRef {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Arc::new(Schema::new(vec![
            Field::new("pid", DataType::Int32, false),
            Field::new("user_name", DataType::Utf8, false),
            Field::new("client_addr", DataType::Utf8, false),
            Field::new("application_name", DataType::Utf8, true),
            Field::new("backend_start", ts.clone(), false),
            Field::new("state", DataType::Utf8, false),
            Field::new("query", DataType::Utf8, true),
            Field::new("query_start", ts, true),
        ]))
    }

    fn snapshot(&self) -> DfResult<RecordBatch> {
        let sessions = self.sessions.lock().expect("lock").clone();
        let n = sessions.len();
        let mut pid = Int32Builder::with_capacity(n);
        let mut user = StringBuilder::new();
        let mut addr = StringBuilder::new();
        let mut app = StringBuilder::new();
        let mut start = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut state = StringBuilder::new();
        let mut query = StringBuilder::new();
        let mut query_start = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        for (p, s) in sessions {
            pid.append_value(p);
            user.append_value(&s.user);
            addr.append_value(s.client_addr.to_string());
            app.append_option(s.application_name.as_deref());
            start.append_value(s.backend_start.timestamp_micros());
            state.append_value(s.state);
            query.append_option(s.query.as_deref());
            query_start.append_option(s.query_start.map(|t| t.timestamp_micros()));
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(pid.finish()),
            Arc::new(user.finish()),
            Arc::new(addr.finish()),
            Arc::new(app.finish()),
            Arc::new(start.finish()),
            Arc::new(state.finish()),
            Arc::new(query.finish()),
            Arc::new(query_start.finish()),
        ];
        Ok(RecordBatch::try_new(Self::schema(), columns)?)
    }
}

/// `almasql.sessions`: one row per logged-in client, read when queried.
#[derive(Debug)]
pub struct SessionsTable {
    registry: Arc<SessionRegistry>,
}

impl SessionsTable {
    /// The table over `registry`.
    pub fn new(registry: Arc<SessionRegistry>) -> Self {
        Self { registry }
    }
}

#[async_trait]
impl TableProvider for SessionsTable {
    fn schema(&self) -> SchemaRef {
        SessionRegistry::schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let batch = self.registry.snapshot()?;
        MemTable::try_new(batch.schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}
