//! The query the table provider fills from SQL, and the JQL built from it.
//!
//! What is exact and what is not is documented on [`JiraQuery`].

use std::fmt::Write as _;

use arrow::error::ArrowError;

use super::convert::{CommentColumn, IssueColumn};
use super::error::{JiraError, Result};

/// A half-open time range in microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start.
    pub from_us: Option<i64>,
    /// Exclusive end.
    pub to_us: Option<i64>,
}

impl TimeRange {
    /// The unbounded range.
    pub const ALL: Self = Self {
        from_us: None,
        to_us: None,
    };

    /// `[from_us, to_us)`.
    pub fn between(from_us: i64, to_us: i64) -> Self {
        Self {
            from_us: Some(from_us),
            to_us: Some(to_us),
        }
    }

    /// True when the range is bounded on either side.
    pub fn is_bounded(&self) -> bool {
        self.from_us.is_some() || self.to_us.is_some()
    }

    /// True when no instant lies in the range.
    pub fn is_empty(&self) -> bool {
        matches!((self.from_us, self.to_us), (Some(f), Some(t)) if f >= t)
    }

    /// Whether a row with this value passes: any value (NULL too) when
    /// unbounded, otherwise a non-NULL value inside the range.
    pub fn matches(&self, t: Option<i64>) -> bool {
        if !self.is_bounded() {
            return true;
        }
        t.is_some_and(|t| self.from_us.is_none_or(|f| t >= f) && self.to_us.is_none_or(|e| t < e))
    }
}

/// What the table provider can hand to this module, by column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterSupport {
    /// Applied exactly (see [`JiraQuery`]).
    Exact,
    /// Not taken by [`JiraQuery`]; DataFusion filters the rows.
    Unsupported,
}

/// Whether filters on `jira.issues.<column>` can go into a [`JiraQuery`]:
/// equality / `IN` on `project`, `status`, `status_category`, `priority`,
/// `issue_type`, `assignee`, `key`; ranges on `created`, `updated`,
/// `resolved`; label containment on `labels`. All of them are exact.
pub fn filter_support(column: &str) -> FilterSupport {
    match column {
        "project" | "status" | "status_category" | "priority" | "issue_type" | "assignee"
        | "key" | "created" | "updated" | "resolved" | "labels" => FilterSupport::Exact,
        _ => FilterSupport::Unsupported,
    }
}

/// A search of `jira.issues`, filled by the table provider from SQL.
///
/// `None` in a list means "no filter"; `Some(vec![])` matches nothing.
///
/// # What is exact
///
/// Every filter of [`JiraQuery`] is applied twice: first as JQL, so JIRA
/// sends fewer issues, then again, exactly, by this module to the converted
/// rows (text by case-sensitive equality, times on the microsecond values,
/// a NULL never matching a bounded filter). The JQL alone is a superset:
///
/// - equality / `IN` on `project`, `status`, `status_category`, `priority`,
///   `issue_type` and `key` narrows the search, but JIRA compares
///   case-insensitively, matches a project by key *or* name, and finds
///   moved issues by their old keys, so it may return a few rows too many;
/// - `assignee` is not sent at all: JQL matches users by account id (Cloud)
///   or user name, never by the display name the column holds;
/// - time ranges are *inexact* in JQL: its date literals have minute
///   resolution and are read in the time zone of the JIRA user the token
///   belongs to, which this module does not know. Each bound is therefore
///   widened by the largest UTC offsets in use (12 h before the lower bound,
///   14 h after the upper one) and rounded outwards to whole minutes, so
///   the JQL never excludes an issue the SQL wants; the issues it lets in
///   too many are dropped by the exact pass;
/// - `labels_all` (every label present) is exact in JQL (`labels = "x"`
///   tests membership) and exact again in memory.
///
/// So the table provider may report every filter it stores here as
/// `TableProviderFilterPushDown::Exact` ([`filter_support`]), and the
/// `limit` then counts rows after filtering. A strict bound `t > x`
/// becomes `from_us = x + 1` (times are integer microseconds).
///
/// One visible difference from SQL: a value JIRA does not know in a
/// `project`, `status`, `priority`, `issue_type`, `status_category` or `key`
/// filter makes JIRA reject the whole JQL (HTTP 400, "The value 'X' does
/// not exist for the field 'project'"), reported as
/// [`JiraError::BadRequest`](super::JiraError::BadRequest) instead of an
/// empty result. An empty string can never match any of these fields, so
/// it is dropped from the lists before the JQL is written; a list left
/// empty makes the query match nothing without asking JIRA.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JiraQuery {
    /// Project keys.
    pub projects: Option<Vec<String>>,
    /// Status names (`Open`, `In Progress`, ...).
    pub statuses: Option<Vec<String>>,
    /// Status category names (`To Do`, `In Progress`, `Done`).
    pub status_categories: Option<Vec<String>>,
    /// Priority names.
    pub priorities: Option<Vec<String>>,
    /// Issue type names.
    pub issue_types: Option<Vec<String>>,
    /// Assignee display names (filtered in memory only).
    pub assignees: Option<Vec<String>>,
    /// Issue keys.
    pub keys: Option<Vec<String>>,
    /// Range of `created`.
    pub created: TimeRange,
    /// Range of `updated`.
    pub updated: TimeRange,
    /// Range of `resolved` (JIRA's `resolutiondate`).
    pub resolved: TimeRange,
    /// Labels that must all be present.
    pub labels_all: Vec<String>,
    /// Columns to return, as indices into
    /// [`issues_schema`](super::issues_schema); `None` = all. Only the JIRA
    /// fields these (and the filters) need are requested. An empty
    /// projection returns batches with the right row count and no columns.
    pub projection: Option<Vec<usize>>,
    /// Most rows to return (after filtering).
    pub limit: Option<usize>,
}

/// A search of `jira.comments`: the comments of the issues `issues` selects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommentsQuery {
    /// Which issues' comments; map `issue_key` filters to `issues.keys`.
    /// Its `projection` and `limit` are ignored.
    pub issues: JiraQuery,
    /// Range of the comment's `created`. A lower bound also narrows the
    /// issue search to issues updated since then (adding a comment updates
    /// its issue), so old issues are not asked for comments.
    pub created: TimeRange,
    /// Columns to return, as indices into
    /// [`comments_schema`](super::comments_schema); `None` = all.
    pub projection: Option<Vec<usize>>,
    /// Most comments to return.
    pub limit: Option<usize>,
}

/// JQL's sort order: stable pages, and issues created while paging land
/// on later pages instead of shifting earlier ones.
pub const JQL_ORDER_BY: &str = "ORDER BY created ASC, key ASC";

/// How far before a lower time bound the JQL starts (the largest negative
/// UTC offset in use, UTC-12).
pub const JQL_SLACK_BEFORE_US: i64 = 12 * 3_600_000_000;
/// How far after an upper time bound the JQL ends (the largest positive
/// UTC offset in use, UTC+14).
pub const JQL_SLACK_AFTER_US: i64 = 14 * 3_600_000_000;

const MINUTE_US: i64 = 60_000_000;

impl JiraQuery {
    /// True when no issue can match, so JIRA need not be asked.
    pub fn matches_nothing(&self) -> bool {
        let lists = [
            &self.projects,
            &self.statuses,
            &self.status_categories,
            &self.priorities,
            &self.issue_types,
            &self.assignees,
            &self.keys,
        ];
        lists
            .iter()
            .any(|l| l.as_ref().is_some_and(|v| v.iter().all(String::is_empty)))
            || self.labels_all.iter().any(String::is_empty)
            || [self.created, self.updated, self.resolved]
                .iter()
                .any(TimeRange::is_empty)
    }

    /// The projected columns, in output order.
    pub fn columns(&self) -> Result<Vec<IssueColumn>> {
        projected(&self.projection, &IssueColumn::ALL, "jira.issues")
    }

    /// The JQL for this query ([`build_jql`]).
    pub fn jql(&self) -> String {
        build_jql(self)
    }
}

impl CommentsQuery {
    /// The projected columns, in output order.
    pub fn columns(&self) -> Result<Vec<CommentColumn>> {
        projected(&self.projection, &CommentColumn::ALL, "jira.comments")
    }

    /// The issue search behind this comment search: `issues` narrowed to
    /// issues updated since the lower bound of `created`.
    pub fn issue_query(&self) -> JiraQuery {
        let mut issues = self.issues.clone();
        if let Some(from) = self.created.from_us {
            issues.updated.from_us = Some(issues.updated.from_us.map_or(from, |f| f.max(from)));
        }
        issues.projection = Some(vec![IssueColumn::Key as usize]);
        issues.limit = None;
        issues
    }
}

fn projected<C: Copy>(projection: &Option<Vec<usize>>, all: &[C], table: &str) -> Result<Vec<C>> {
    match projection {
        None => Ok(all.to_vec()),
        Some(p) => p
            .iter()
            .map(|&i| {
                all.get(i).copied().ok_or_else(|| {
                    JiraError::Arrow(ArrowError::SchemaError(format!(
                        "projection index {i} out of range for {table} ({} columns)",
                        all.len()
                    )))
                })
            })
            .collect(),
    }
}

/// Builds the JQL of `query`: one clause per filter, joined by `AND`, then
/// [`JQL_ORDER_BY`]. Every value is a quoted, escaped string literal
/// ([`jql_string`]), so no value can change the JQL's structure.
pub fn build_jql(query: &JiraQuery) -> String {
    let mut clauses = vec![];
    in_clause(&mut clauses, "project", &query.projects);
    in_clause(&mut clauses, "issuetype", &query.issue_types);
    in_clause(&mut clauses, "status", &query.statuses);
    in_clause(&mut clauses, "statusCategory", &query.status_categories);
    in_clause(&mut clauses, "priority", &query.priorities);
    in_clause(&mut clauses, "key", &query.keys);
    let mut labels: Vec<&String> = vec![];
    for label in &query.labels_all {
        if !label.is_empty() && !labels.contains(&label) {
            labels.push(label);
        }
    }
    for label in labels {
        clauses.push(format!("labels = {}", jql_string(label)));
    }
    time_clauses(&mut clauses, "created", &query.created);
    time_clauses(&mut clauses, "updated", &query.updated);
    time_clauses(&mut clauses, "resolved", &query.resolved);
    if clauses.is_empty() {
        JQL_ORDER_BY.to_string()
    } else {
        format!("{} {JQL_ORDER_BY}", clauses.join(" AND "))
    }
}

fn in_clause(clauses: &mut Vec<String>, field: &str, values: &Option<Vec<String>>) {
    let Some(values) = values else { return };
    let mut unique: Vec<&String> = vec![];
    for v in values {
        if !v.is_empty() && !unique.contains(&v) {
            unique.push(v);
        }
    }
    if unique.is_empty() {
        // Matches nothing; the caller does not send such a query.
        return;
    }
    let list: Vec<String> = unique.into_iter().map(|v| jql_string(v)).collect();
    clauses.push(format!("{field} in ({})", list.join(", ")));
}

fn time_clauses(clauses: &mut Vec<String>, field: &str, range: &TimeRange) {
    let (from, to) = widened_bounds(range);
    if let Some(from) = from {
        clauses.push(format!("{field} >= \"{from}\""));
    }
    if let Some(to) = to {
        clauses.push(format!("{field} < \"{to}\""));
    }
}

/// The JQL date literals (`yyyy-MM-dd HH:mm`) bounding `range`, widened
/// for the unknown time zone and rounded outwards to whole minutes; `None`
/// for a side that is unbounded or outside the years 1000 to 9999 (the JQL
/// then leaves that side open, which is still a superset).
pub fn widened_bounds(range: &TimeRange) -> (Option<String>, Option<String>) {
    let from = range
        .from_us
        .and_then(|f| f.checked_sub(JQL_SLACK_BEFORE_US))
        .map(|f| f.div_euclid(MINUTE_US) * MINUTE_US)
        .and_then(jql_minute);
    let to = range
        .to_us
        .and_then(|t| t.checked_add(JQL_SLACK_AFTER_US))
        .and_then(|t| {
            let floor = t.div_euclid(MINUTE_US) * MINUTE_US;
            if floor == t {
                Some(t)
            } else {
                floor.checked_add(MINUTE_US)
            }
        })
        .and_then(jql_minute);
    (from, to)
}

fn jql_minute(us: i64) -> Option<String> {
    use chrono::Datelike;
    let t = chrono::DateTime::from_timestamp_micros(us)?;
    (1000..=9999)
        .contains(&t.year())
        .then(|| t.format("%Y-%m-%d %H:%M").to_string())
}

/// `value` as a JQL string literal: in double quotes, with `"` and `\`
/// escaped, newline, carriage return and tab as `\n`, `\r`, `\t`, and
/// every other control character (and the Unicode line and paragraph
/// separators) as `\uXXXX`. Other characters, `'` included, stand as they
/// are: inside quotes JQL gives them no meaning.
pub fn jql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
