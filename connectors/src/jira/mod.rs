//! JIRA as tables: `<schema>.issues` and `<schema>.comments`, from the REST
//! API (kind `jira`, Cloud or Server/Data Center) or from exported search
//! pages on disk (kind `jira_export`, which the demo dataset uses).
//!
//! [`api`] holds the client, the JQL builder (every value quoted and
//! escaped) and the JSON → Arrow conversion; this module turns SQL filters
//! into a [`JiraQuery`]: equality / `IN` on project, status,
//! status_category, priority, issue_type, assignee and key, ranges on
//! created / updated / resolved, `array_has(labels, '…')`, the projection
//! and LIMIT. All of them are applied exactly by [`api`], so they are
//! declared `Exact` and LIMIT reaches JIRA as the page size and an early
//! stop.

pub mod api;

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use futures::TryStreamExt;

use crate::files::SourceLocation;
use crate::filters::PushedFilters;
use api::{
    AntennaRule, CommentsQuery, JiraClient, JiraExportOptions, JiraOptions, JiraQuery, TimeRange,
    comments_schema, issues_schema,
};

/// Text columns of `issues` whose equality / `IN` filters go to JIRA.
const ISSUE_TEXT_COLUMNS: &[&str] = &[
    "project",
    "status",
    "status_category",
    "priority",
    "issue_type",
    "assignee",
    "key",
];
const ISSUE_TIME_COLUMNS: [&str; 3] = ["created", "updated", "resolved"];

/// Where the issues come from. One per source, so the size difference of
/// the variants does not matter.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
enum Backend {
    Rest(JiraClient),
    Export {
        location: SourceLocation,
        antenna: AntennaRule,
    },
}

/// One JIRA source: its two tables share the client (request limit, cache).
#[derive(Debug)]
pub struct JiraSource {
    name: String,
    backend: Backend,
}

impl JiraSource {
    /// A source over the REST API.
    pub fn rest(options: &JiraOptions) -> crate::Result<Arc<Self>> {
        let client = JiraClient::new(options).map_err(|e| crate::ConnectorError::Options {
            source_name: options.schema.clone(),
            message: e.to_string(),
        })?;
        Ok(Arc::new(Self {
            name: options.schema.clone(),
            backend: Backend::Rest(client),
        }))
    }

    /// A source over exported search pages.
    pub fn export(options: &JiraExportOptions) -> crate::Result<Arc<Self>> {
        let antenna = options
            .antenna_rule()
            .map_err(|e| crate::ConnectorError::Options {
                source_name: options.schema.clone(),
                message: e.to_string(),
            })?;
        Ok(Arc::new(Self {
            name: options.schema.clone(),
            backend: Backend::Export {
                location: SourceLocation::parse(&options.location)?,
                antenna,
            },
        }))
    }

    /// HTTP requests made so far (0 in export mode).
    pub fn requests_made(&self) -> u64 {
        match &self.backend {
            Backend::Rest(c) => c.requests_made(),
            Backend::Export { .. } => 0,
        }
    }

    /// The `issues` table.
    pub fn issues_table(self: &Arc<Self>) -> Arc<dyn TableProvider> {
        Arc::new(JiraTable {
            source: self.clone(),
            comments: false,
            schema: issues_schema(),
        })
    }

    /// The `comments` table.
    pub fn comments_table(self: &Arc<Self>) -> Arc<dyn TableProvider> {
        Arc::new(JiraTable {
            source: self.clone(),
            comments: true,
            schema: comments_schema(),
        })
    }

    async fn export_files(&self, state: &dyn Session) -> Result<Vec<(String, Vec<u8>)>> {
        let Backend::Export { location, .. } = &self.backend else {
            return Ok(vec![]);
        };
        let files = location
            .list(state, &[".json"])
            .await
            .map_err(|e| e.in_source(&self.name))?;
        let mut out = vec![];
        for file in files {
            let bytes = file.read_all().await.map_err(|e| e.in_source(&self.name))?;
            out.push((file.display.clone(), bytes));
        }
        Ok(out)
    }
}

/// `issues` or `comments` of a [`JiraSource`].
#[derive(Debug)]
struct JiraTable {
    source: Arc<JiraSource>,
    comments: bool,
    schema: SchemaRef,
}

fn issue_filter_supported(filter: &Expr) -> bool {
    ISSUE_TIME_COLUMNS
        .iter()
        .any(|t| PushedFilters::supports(filter, t, ISSUE_TEXT_COLUMNS))
        || label(filter).is_some()
}

/// `array_has(labels, 'x')`: the label `x`.
fn label(filter: &Expr) -> Option<String> {
    let Expr::ScalarFunction(f) = filter else {
        return None;
    };
    if f.name() != "array_has" || f.args.len() != 2 {
        return None;
    }
    match (&f.args[0], &f.args[1]) {
        (Expr::Column(c), Expr::Literal(ScalarValue::Utf8(Some(v)), _)) if c.name == "labels" => {
            Some(v.clone())
        }
        _ => None,
    }
}

/// The issue search the filters describe (the text filters and the time
/// ranges of issues).
fn issue_query(filters: &[Expr]) -> JiraQuery {
    let text = PushedFilters::from_exprs(filters, "", ISSUE_TEXT_COLUMNS);
    let list = |c: &str| text.allowed(c).map(<[String]>::to_vec);
    let range = |c: &str| {
        let r = PushedFilters::from_exprs(filters, c, &[]).time;
        TimeRange {
            from_us: r.from_us,
            to_us: r.to_us,
        }
    };
    JiraQuery {
        projects: list("project"),
        statuses: list("status"),
        status_categories: list("status_category"),
        priorities: list("priority"),
        issue_types: list("issue_type"),
        assignees: list("assignee"),
        keys: list("key"),
        created: range("created"),
        updated: range("updated"),
        resolved: range("resolved"),
        labels_all: filters.iter().filter_map(label).collect(),
        projection: None,
        limit: None,
    }
}

#[async_trait]
impl TableProvider for JiraTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                let exact = if self.comments {
                    PushedFilters::supports(f, "created", &["issue_key"])
                } else {
                    issue_filter_supported(f)
                };
                if exact {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let name = self.source.name.clone();
        let to_df = move |e: api::JiraError| {
            DataFusionError::External(Box::new(e)).context(format!("source {name}"))
        };
        let (issues, comments) = if self.comments {
            let pushed = PushedFilters::from_exprs(filters, "created", &["issue_key"]);
            let query = CommentsQuery {
                issues: JiraQuery {
                    keys: pushed.allowed("issue_key").map(<[String]>::to_vec),
                    ..JiraQuery::default()
                },
                created: TimeRange {
                    from_us: pushed.time.from_us,
                    to_us: pushed.time.to_us,
                },
                projection: projection.cloned(),
                limit,
            };
            (None, Some(query))
        } else {
            let mut query = issue_query(filters);
            query.projection = projection.cloned();
            query.limit = limit;
            (Some(query), None)
        };
        match &self.source.backend {
            Backend::Export { antenna, .. } => {
                let files = self.source.export_files(state).await?;
                let batches = match (&issues, &comments) {
                    (Some(q), _) => api::export_batches(files, q, antenna),
                    (_, Some(q)) => api::export_comment_batches(files, q, antenna),
                    _ => unreachable!("one of the two queries is set"),
                }
                .map_err(to_df)?;
                MemTable::try_new(schema, vec![batches])?
                    .scan(state, None, &[], None)
                    .await
            }
            Backend::Rest(client) => {
                let partition = Arc::new(JiraPartition {
                    client: client.clone(),
                    issues,
                    comments,
                    schema: schema.clone(),
                    source: self.source.name.clone(),
                });
                Ok(Arc::new(StreamingTableExec::try_new(
                    schema,
                    vec![partition],
                    None,
                    vec![],
                    false,
                    limit,
                )?))
            }
        }
    }
}

/// One search against the REST API, streamed page by page.
#[derive(Debug)]
struct JiraPartition {
    client: JiraClient,
    issues: Option<JiraQuery>,
    comments: Option<CommentsQuery>,
    schema: SchemaRef,
    source: String,
}

impl PartitionStream for JiraPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let source = self.source.clone();
        let stream = match (&self.issues, &self.comments) {
            (Some(q), _) => self.client.search(q.clone()),
            (_, Some(q)) => self.client.comments(q.clone()),
            _ => Box::pin(futures::stream::empty::<api::Result<RecordBatch>>()),
        }
        .map_err(move |e| {
            DataFusionError::External(Box::new(e)).context(format!("source {source}"))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}
