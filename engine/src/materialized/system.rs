//! The refresh history (kept as JSON lines in the data directory) and the
//! system tables `almasql.materialized_views` and `almasql.refresh_history`,
//! whose rows are computed when they are scanned.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use serde::{Deserialize, Serialize};

use super::table::MvState;
use crate::error::{EngineError, Result};
use crate::mv_definition::MvName;

/// The schema the system tables are in.
pub const SYSTEM_SCHEMA: &str = "almasql";

/// Entries kept in memory; the file keeps all of them.
const HISTORY_IN_MEMORY: usize = 10_000;

/// One refresh, as recorded in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The view, `schema.name`.
    pub view: String,
    /// When the refresh started (µs since the epoch, UTC).
    pub started_at_us: i64,
    /// When it finished (µs since the epoch, UTC).
    pub finished_at_us: i64,
    /// `ok` or `failed`.
    pub status: String,
    /// Rows the refresh wrote (all rows in full mode, the new ones in
    /// append mode); absent when it failed.
    pub rows: Option<u64>,
    /// Bytes the refresh wrote; absent when it failed.
    pub bytes: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The refresh history: append-only JSON lines, one per refresh.
#[derive(Debug)]
pub(crate) struct History {
    path: PathBuf,
    entries: Mutex<Vec<RefreshRecord>>,
}

impl History {
    /// Reads the history file (a torn last line, from a crash, is skipped).
    pub fn open(path: PathBuf) -> Result<Self> {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(EngineError::io(&path, e)),
        };
        let mut entries = vec![];
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(entry) => entries.push(entry),
                Err(e) => {
                    tracing::warn!(path = %path.display(), line = i + 1, error = %e, "skipping an unreadable refresh-history line");
                }
            }
        }
        if !text.is_empty() && !text.ends_with('\n') {
            // Finish the torn line so the next entry starts on its own.
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| EngineError::io(&path, e))?;
            file.write_all(b"\n")
                .map_err(|e| EngineError::io(&path, e))?;
        }
        let skip = entries.len().saturating_sub(HISTORY_IN_MEMORY);
        entries.drain(..skip);
        Ok(Self {
            path,
            entries: Mutex::new(entries),
        })
    }

    /// Records a refresh, in memory and in the file.
    pub fn append(&self, record: RefreshRecord) {
        let mut entries = self.entries.lock().expect("not poisoned");
        let mut line = serde_json::to_string(&record).expect("a record serializes");
        line.push('\n');
        let written = (|| {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            file.write_all(line.as_bytes())
        })();
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write the refresh history");
        }
        entries.push(record);
        if entries.len() > HISTORY_IN_MEMORY {
            entries.remove(0);
        }
    }

    /// The recorded refreshes, oldest first.
    pub fn entries(&self) -> Vec<RefreshRecord> {
        self.entries.lock().expect("not poisoned").clone()
    }
}

/// The registry the system tables read.
pub(crate) type Views = Mutex<BTreeMap<MvName, Arc<MvState>>>;

#[derive(Debug, Clone, Copy)]
enum Kind {
    MaterializedViews,
    RefreshHistory,
}

/// `almasql.materialized_views` or `almasql.refresh_history`.
#[derive(Debug)]
pub(crate) struct SystemTable {
    kind: Kind,
    schema: SchemaRef,
    views: Arc<Views>,
    history: Arc<History>,
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

impl SystemTable {
    pub fn materialized_views(views: Arc<Views>, history: Arc<History>) -> Self {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("definition", DataType::Utf8, false),
            Field::new("mode", DataType::Utf8, false),
            Field::new("refresh_interval", DataType::Utf8, true),
            Field::new("last_refresh", timestamp(), true),
            Field::new("next_refresh", timestamp(), true),
            Field::new("rows", DataType::Int64, true),
            Field::new("bytes", DataType::Int64, true),
            Field::new("staleness_seconds", DataType::Float64, true),
            Field::new("status", DataType::Utf8, false),
            Field::new("last_error", DataType::Utf8, true),
        ]));
        Self {
            kind: Kind::MaterializedViews,
            schema,
            views,
            history,
        }
    }

    pub fn refresh_history(views: Arc<Views>, history: Arc<History>) -> Self {
        let schema = Arc::new(Schema::new(vec![
            Field::new("view", DataType::Utf8, false),
            Field::new("started_at", timestamp(), false),
            Field::new("finished_at", timestamp(), false),
            Field::new("status", DataType::Utf8, false),
            Field::new("rows", DataType::Int64, true),
            Field::new("bytes", DataType::Int64, true),
            Field::new("error", DataType::Utf8, true),
        ]));
        Self {
            kind: Kind::RefreshHistory,
            schema,
            views,
            history,
        }
    }

    fn batch(&self) -> DfResult<RecordBatch> {
        let columns: Vec<ArrayRef> = match self.kind {
            Kind::MaterializedViews => {
                let now = chrono::Utc::now().timestamp_micros();
                let views: Vec<_> = self
                    .views
                    .lock()
                    .expect("not poisoned")
                    .values()
                    .cloned()
                    .collect();
                let mut c = MvColumns::default();
                for view in views {
                    let status = view.status();
                    let manifest = view.snapshot().map(|s| s.manifest);
                    c.name.push(view.name.to_string());
                    c.definition.push(view.definition.clone());
                    c.mode.push(view.options.mode.as_str().to_string());
                    c.interval
                        .push(view.options.refresh.as_ref().map(|r| r.text().to_string()));
                    c.last.push(status.last_refresh_us);
                    c.next.push(status.next_refresh_us);
                    c.rows.push(manifest.as_ref().map(|m| m.rows as i64));
                    c.bytes.push(manifest.as_ref().map(|m| m.bytes as i64));
                    c.staleness.push(
                        status
                            .last_refresh_us
                            .map(|t| (now - t).max(0) as f64 / 1e6),
                    );
                    let state = if status.refreshing {
                        "refreshing"
                    } else if status.last_error.is_some() {
                        "failed"
                    } else if manifest.is_none() {
                        "not populated"
                    } else {
                        "ok"
                    };
                    c.status.push(state.to_string());
                    c.error.push(status.last_error.clone());
                }
                vec![
                    Arc::new(StringArray::from(c.name)),
                    Arc::new(StringArray::from(c.definition)),
                    Arc::new(StringArray::from(c.mode)),
                    Arc::new(StringArray::from(c.interval)),
                    Arc::new(TimestampMicrosecondArray::from(c.last).with_timezone("UTC")),
                    Arc::new(TimestampMicrosecondArray::from(c.next).with_timezone("UTC")),
                    Arc::new(Int64Array::from(c.rows)),
                    Arc::new(Int64Array::from(c.bytes)),
                    Arc::new(Float64Array::from(c.staleness)),
                    Arc::new(StringArray::from(c.status)),
                    Arc::new(StringArray::from(c.error)),
                ]
            }
            Kind::RefreshHistory => {
                let entries = self.history.entries();
                let text = |f: fn(&RefreshRecord) -> &str| -> ArrayRef {
                    Arc::new(StringArray::from_iter_values(entries.iter().map(f)))
                };
                let time = |f: fn(&RefreshRecord) -> i64| -> ArrayRef {
                    Arc::new(
                        TimestampMicrosecondArray::from_iter_values(entries.iter().map(f))
                            .with_timezone("UTC"),
                    )
                };
                let count = |f: fn(&RefreshRecord) -> Option<u64>| -> ArrayRef {
                    Arc::new(Int64Array::from_iter(
                        entries.iter().map(|e| f(e).map(|v| v as i64)),
                    ))
                };
                vec![
                    text(|e| &e.view),
                    time(|e| e.started_at_us),
                    time(|e| e.finished_at_us),
                    text(|e| &e.status),
                    count(|e| e.rows),
                    count(|e| e.bytes),
                    Arc::new(StringArray::from_iter(
                        entries.iter().map(|e| e.error.as_deref()),
                    )),
                ]
            }
        };
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

#[derive(Default)]
struct MvColumns {
    name: Vec<String>,
    definition: Vec<String>,
    mode: Vec<String>,
    interval: Vec<Option<String>>,
    last: Vec<Option<i64>>,
    next: Vec<Option<i64>>,
    rows: Vec<Option<i64>>,
    bytes: Vec<Option<i64>>,
    staleness: Vec<Option<f64>>,
    status: Vec<String>,
    error: Vec<Option<String>>,
}

#[async_trait]
impl TableProvider for SystemTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
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
        let table = MemTable::try_new(self.schema.clone(), vec![vec![self.batch()?]])?;
        table.scan(state, projection, filters, limit).await
    }
}
