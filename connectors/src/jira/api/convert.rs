//! JIRA issue and comment JSON to Arrow: the two schemas, the antenna rule,
//! timestamps, and the exact in-memory filter.

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, ListBuilder, StringArray, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use regex::Regex;
use serde_json::Value;

use super::adf::adf_to_text;
use super::jql::{CommentsQuery, JiraQuery};

/// The default antenna rule: the ALMA antenna names (12 m DA41-DA65 and
/// DV01-DV25, 12 m total power PM01-PM04, 7 m CM01-CM12) as whole words,
/// case-sensitive.
pub const DEFAULT_ANTENNA_REGEX: &str =
    r"\b(DA4[1-9]|DA5[0-9]|DA6[0-5]|DV0[1-9]|DV1[0-9]|DV2[0-5]|PM0[1-4]|CM0[1-9]|CM1[0-2])\b";

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

static ISSUES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(
        IssueColumn::ALL
            .iter()
            .map(|c| c.field())
            .collect::<Vec<_>>(),
    ))
});

static COMMENTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(
        CommentColumn::ALL
            .iter()
            .map(|c| c.field())
            .collect::<Vec<_>>(),
    ))
});

/// The schema of `jira.issues`; [`IssueColumn`] names its columns in order.
pub fn issues_schema() -> SchemaRef {
    ISSUES_SCHEMA.clone()
}

/// The schema of `jira.comments`; [`CommentColumn`] names its columns in
/// order.
pub fn comments_schema() -> SchemaRef {
    COMMENTS_SCHEMA.clone()
}

/// A column of `jira.issues`; `col as usize` is its index in
/// [`issues_schema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueColumn {
    /// `id`: JIRA's numeric id, as text. Not null.
    Id,
    /// `key`: e.g. `PRTSPR-40123`. Not null.
    Key,
    /// `project`: the project key.
    Project,
    /// `issue_type`: `fields.issuetype.name`.
    IssueType,
    /// `status`: `fields.status.name`.
    Status,
    /// `status_category`: `fields.status.statusCategory.name`.
    StatusCategory,
    /// `priority`: `fields.priority.name`.
    Priority,
    /// `summary`.
    Summary,
    /// `description`: plain text (ADF converted).
    Description,
    /// `assignee`: display name.
    Assignee,
    /// `reporter`: display name.
    Reporter,
    /// `labels`: list of text.
    Labels,
    /// `components`: list of component names.
    Components,
    /// `created`: timestamp, UTC.
    Created,
    /// `updated`: timestamp, UTC.
    Updated,
    /// `resolved`: `fields.resolutiondate`, UTC.
    Resolved,
    /// `resolution`: `fields.resolution.name`.
    Resolution,
    /// `antenna`: found by the [`AntennaRule`].
    Antenna,
    /// `fields`: the issue's raw `fields` object as JSON text.
    Fields,
}

impl IssueColumn {
    /// Every column, in schema order.
    pub const ALL: [Self; 19] = [
        Self::Id,
        Self::Key,
        Self::Project,
        Self::IssueType,
        Self::Status,
        Self::StatusCategory,
        Self::Priority,
        Self::Summary,
        Self::Description,
        Self::Assignee,
        Self::Reporter,
        Self::Labels,
        Self::Components,
        Self::Created,
        Self::Updated,
        Self::Resolved,
        Self::Resolution,
        Self::Antenna,
        Self::Fields,
    ];

    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Key => "key",
            Self::Project => "project",
            Self::IssueType => "issue_type",
            Self::Status => "status",
            Self::StatusCategory => "status_category",
            Self::Priority => "priority",
            Self::Summary => "summary",
            Self::Description => "description",
            Self::Assignee => "assignee",
            Self::Reporter => "reporter",
            Self::Labels => "labels",
            Self::Components => "components",
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Resolved => "resolved",
            Self::Resolution => "resolution",
            Self::Antenna => "antenna",
            Self::Fields => "fields",
        }
    }

    fn field(self) -> Field {
        let data_type = match self {
            Self::Labels | Self::Components => list_type(),
            Self::Created | Self::Updated | Self::Resolved => timestamp_type(),
            _ => DataType::Utf8,
        };
        Field::new(
            self.name(),
            data_type,
            !matches!(self, Self::Id | Self::Key),
        )
    }

    /// The JIRA fields (`fields=` names) this column is read from.
    pub fn jira_fields(self, antenna: &AntennaRule) -> Vec<&str> {
        match self {
            Self::Id | Self::Key => vec![],
            Self::Project => vec!["project"],
            Self::IssueType => vec!["issuetype"],
            Self::Status | Self::StatusCategory => vec!["status"],
            Self::Priority => vec!["priority"],
            Self::Summary => vec!["summary"],
            Self::Description => vec!["description"],
            Self::Assignee => vec!["assignee"],
            Self::Reporter => vec!["reporter"],
            Self::Labels => vec!["labels"],
            Self::Components => vec!["components"],
            Self::Created => vec!["created"],
            Self::Updated => vec!["updated"],
            Self::Resolved => vec!["resolutiondate"],
            Self::Resolution => vec!["resolution"],
            Self::Antenna => antenna.jira_fields(),
            Self::Fields => vec!["*all"],
        }
    }
}

/// A column of `jira.comments`; `col as usize` is its index in
/// [`comments_schema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentColumn {
    /// `issue_key`. Not null.
    IssueKey,
    /// `id`: the comment's id. Not null.
    Id,
    /// `author`: display name.
    Author,
    /// `created`: timestamp, UTC.
    Created,
    /// `body`: plain text (ADF converted).
    Body,
}

impl CommentColumn {
    /// Every column, in schema order.
    pub const ALL: [Self; 5] = [
        Self::IssueKey,
        Self::Id,
        Self::Author,
        Self::Created,
        Self::Body,
    ];

    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::IssueKey => "issue_key",
            Self::Id => "id",
            Self::Author => "author",
            Self::Created => "created",
            Self::Body => "body",
        }
    }

    fn field(self) -> Field {
        let data_type = match self {
            Self::Created => timestamp_type(),
            _ => DataType::Utf8,
        };
        Field::new(
            self.name(),
            data_type,
            !matches!(self, Self::IssueKey | Self::Id),
        )
    }
}

/// How the `antenna` column is found.
///
/// - [`AntennaRule::Field`]: the value of a custom field: a string, an
///   option object (`{"value": "DV07"}`, or `name`), a number, or the first
///   of these in an array. Empty text counts as no antenna.
/// - [`AntennaRule::Regex`]: the first match in the summary, else in the
///   labels in their order; the first capture group when the expression
///   has one and it matched, else the whole match. Case-sensitive unless
///   the expression says `(?i)`.
#[derive(Debug, Clone)]
pub enum AntennaRule {
    /// A field id such as `customfield_10042`.
    Field(String),
    /// A regular expression over summary and labels.
    Regex(Regex),
}

impl Default for AntennaRule {
    fn default() -> Self {
        Self::Regex(Regex::new(DEFAULT_ANTENNA_REGEX).expect("the default antenna regex compiles"))
    }
}

impl AntennaRule {
    /// The rule from the options: a field, a regular expression, or (with
    /// neither) [`DEFAULT_ANTENNA_REGEX`].
    pub fn from_options(field: Option<&str>, regex: Option<&str>) -> Result<Self, String> {
        match (field, regex) {
            (Some(_), Some(_)) => Err("set antenna_field or antenna_regex, not both".to_string()),
            (Some(field), None) => {
                let valid = !field.is_empty()
                    && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if valid {
                    Ok(Self::Field(field.to_string()))
                } else {
                    Err(format!(
                        "antenna_field `{field}` is not a JIRA field id (like customfield_10042)"
                    ))
                }
            }
            (None, Some(regex)) => Regex::new(regex)
                .map(Self::Regex)
                .map_err(|e| format!("antenna_regex: {e}")),
            (None, None) => Ok(Self::default()),
        }
    }

    fn jira_fields(&self) -> Vec<&str> {
        match self {
            Self::Field(f) => vec![f.as_str()],
            Self::Regex(_) => vec!["summary", "labels"],
        }
    }

    /// The antenna of an issue, given its `fields` object.
    pub fn extract(&self, fields: &Value) -> Option<String> {
        match self {
            Self::Field(f) => field_text(fields.get(f)?),
            Self::Regex(re) => {
                let summary = fields.get("summary").and_then(Value::as_str);
                let labels = fields.get("labels").and_then(Value::as_array);
                summary
                    .into_iter()
                    .chain(labels.into_iter().flatten().filter_map(Value::as_str))
                    .find_map(|text| {
                        let caps = re.captures(text)?;
                        let m = caps.get(1).or_else(|| caps.get(0))?;
                        Some(m.as_str().to_string())
                    })
            }
        }
    }
}

fn field_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o
            .get("value")
            .or_else(|| o.get("name"))
            .and_then(field_text),
        Value::Array(a) => a.iter().find_map(field_text),
        _ => None,
    }
}

/// Microseconds since the epoch of a JIRA timestamp such as
/// `2011-12-15T15:35:06.000+1300` (offset without a colon), or RFC 3339.
pub fn parse_jira_timestamp(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.timestamp_micros())
}

/// A set of issue columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ColumnSet(u32);

impl ColumnSet {
    pub(super) fn insert(&mut self, c: IssueColumn) {
        self.0 |= 1 << c as u32;
    }

    pub(super) fn contains(self, c: IssueColumn) -> bool {
        self.0 & (1 << c as u32) != 0
    }

    /// The projected columns plus those the query's filters read.
    pub(super) fn needed(columns: &[IssueColumn], query: &JiraQuery) -> Self {
        let mut set = Self::default();
        for &c in columns {
            set.insert(c);
        }
        let filters = [
            (query.projects.is_some(), IssueColumn::Project),
            (query.statuses.is_some(), IssueColumn::Status),
            (
                query.status_categories.is_some(),
                IssueColumn::StatusCategory,
            ),
            (query.priorities.is_some(), IssueColumn::Priority),
            (query.issue_types.is_some(), IssueColumn::IssueType),
            (query.assignees.is_some(), IssueColumn::Assignee),
            (!query.labels_all.is_empty(), IssueColumn::Labels),
            (query.created.is_bounded(), IssueColumn::Created),
            (query.updated.is_bounded(), IssueColumn::Updated),
            (query.resolved.is_bounded(), IssueColumn::Resolved),
        ];
        for (used, c) in filters {
            if used {
                set.insert(c);
            }
        }
        set
    }

    /// The `fields` to ask JIRA for: every JIRA field these columns read,
    /// `*all` when the raw `fields` column is wanted, and `summary` when
    /// nothing is (JIRA Cloud returns only the id for `fields=id`, and the
    /// key must come too).
    pub(super) fn jira_fields(self, antenna: &AntennaRule) -> Vec<String> {
        if self.contains(IssueColumn::Fields) {
            return vec!["*all".to_string()];
        }
        let mut fields: Vec<String> = vec![];
        for c in IssueColumn::ALL {
            if self.contains(c) {
                for f in c.jira_fields(antenna) {
                    if !fields.iter().any(|x| x == f) {
                        fields.push(f.to_string());
                    }
                }
            }
        }
        if fields.is_empty() {
            fields.push("summary".to_string());
        }
        fields
    }
}

/// One issue, with the columns that were asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct IssueRow {
    pub id: String,
    pub key: String,
    pub project: Option<String>,
    pub issue_type: Option<String>,
    pub status: Option<String>,
    pub status_category: Option<String>,
    pub priority: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub assignee: Option<String>,
    pub reporter: Option<String>,
    pub labels: Option<Vec<String>>,
    pub components: Option<Vec<String>>,
    pub created: Option<i64>,
    pub updated: Option<i64>,
    pub resolved: Option<i64>,
    pub resolution: Option<String>,
    pub antenna: Option<String>,
    pub fields: Option<String>,
}

fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn path_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

/// Text of a description or comment body: a string (Server), an ADF
/// document (Cloud), or NULL.
fn rich_text(v: Option<&Value>) -> Option<String> {
    let v = v?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => Some(adf_to_text(v)),
        _ => None,
    }
}

fn text_list(v: Option<&Value>, key: Option<&str>) -> Option<Vec<String>> {
    let items = v?.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|item| match key {
                None => item.as_str(),
                Some(k) => item.get(k).and_then(Value::as_str),
            })
            .map(str::to_string)
            .collect(),
    )
}

fn timestamp(fields: &Value, name: &str, key: &str) -> Result<Option<i64>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_jira_timestamp(s)
            .map(Some)
            .ok_or_else(|| format!("issue {key}: field {name}: `{s}` is not a JIRA timestamp")),
        Some(other) => Err(format!(
            "issue {key}: field {name}: expected a timestamp string, found {other}"
        )),
    }
}

impl IssueRow {
    /// Reads the `needed` columns of one issue of a search answer.
    pub(super) fn from_json(
        issue: &Value,
        needed: ColumnSet,
        antenna: &AntennaRule,
    ) -> Result<Self, String> {
        let id = id_text(issue.get("id")).ok_or("an issue without an id")?;
        let key = issue
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("issue {id} has no key"))?
            .to_string();
        let null = Value::Null;
        let fields = issue.get("fields").unwrap_or(&null);
        let has = |c| needed.contains(c);
        let name = |field: &str, attr: &str| {
            fields
                .get(field)
                .and_then(|v| v.get(attr))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(Self {
            project: has(IssueColumn::Project)
                .then(|| name("project", "key"))
                .flatten(),
            issue_type: has(IssueColumn::IssueType)
                .then(|| name("issuetype", "name"))
                .flatten(),
            status: has(IssueColumn::Status)
                .then(|| name("status", "name"))
                .flatten(),
            status_category: has(IssueColumn::StatusCategory)
                .then(|| path_str(fields, &["status", "statusCategory", "name"]))
                .flatten()
                .map(str::to_string),
            priority: has(IssueColumn::Priority)
                .then(|| name("priority", "name"))
                .flatten(),
            summary: has(IssueColumn::Summary)
                .then(|| fields.get("summary").and_then(Value::as_str))
                .flatten()
                .map(str::to_string),
            description: has(IssueColumn::Description)
                .then(|| rich_text(fields.get("description")))
                .flatten(),
            assignee: has(IssueColumn::Assignee)
                .then(|| name("assignee", "displayName"))
                .flatten(),
            reporter: has(IssueColumn::Reporter)
                .then(|| name("reporter", "displayName"))
                .flatten(),
            labels: has(IssueColumn::Labels)
                .then(|| text_list(fields.get("labels"), None))
                .flatten(),
            components: has(IssueColumn::Components)
                .then(|| text_list(fields.get("components"), Some("name")))
                .flatten(),
            created: if has(IssueColumn::Created) {
                timestamp(fields, "created", &key)?
            } else {
                None
            },
            updated: if has(IssueColumn::Updated) {
                timestamp(fields, "updated", &key)?
            } else {
                None
            },
            resolved: if has(IssueColumn::Resolved) {
                timestamp(fields, "resolutiondate", &key)?
            } else {
                None
            },
            resolution: has(IssueColumn::Resolution)
                .then(|| name("resolution", "name"))
                .flatten(),
            antenna: has(IssueColumn::Antenna)
                .then(|| antenna.extract(fields))
                .flatten(),
            fields: has(IssueColumn::Fields)
                .then(|| issue.get("fields").map(Value::to_string))
                .flatten(),
            id,
            key,
        })
    }

    /// Whether the row passes every filter of `query`, exactly.
    pub(super) fn matches(&self, query: &JiraQuery) -> bool {
        fn one_of(value: &Option<String>, allowed: &Option<Vec<String>>) -> bool {
            allowed
                .as_ref()
                .is_none_or(|a| value.as_ref().is_some_and(|v| a.contains(v)))
        }
        one_of(&self.project, &query.projects)
            && one_of(&self.status, &query.statuses)
            && one_of(&self.status_category, &query.status_categories)
            && one_of(&self.priority, &query.priorities)
            && one_of(&self.issue_type, &query.issue_types)
            && one_of(&self.assignee, &query.assignees)
            && query
                .keys
                .as_ref()
                .is_none_or(|keys| keys.contains(&self.key))
            && query.labels_all.iter().all(|l| {
                self.labels
                    .as_ref()
                    .is_some_and(|labels| labels.contains(l))
            })
            && query.created.matches(self.created)
            && query.updated.matches(self.updated)
            && query.resolved.matches(self.resolved)
    }
}

/// One comment.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct CommentRow {
    pub issue_key: String,
    pub id: String,
    pub author: Option<String>,
    pub created: Option<i64>,
    pub body: Option<String>,
}

impl CommentRow {
    /// Reads one element of a comment list.
    pub(super) fn from_json(issue_key: &str, comment: &Value) -> Result<Self, String> {
        let id = id_text(comment.get("id"))
            .ok_or_else(|| format!("a comment of issue {issue_key} without an id"))?;
        let created = match comment.get("created") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_jira_timestamp(s).ok_or_else(|| {
                format!("comment {id} of issue {issue_key}: `{s}` is not a JIRA timestamp")
            })?),
            Some(other) => {
                return Err(format!(
                    "comment {id} of issue {issue_key}: created is {other}"
                ));
            }
        };
        Ok(Self {
            issue_key: issue_key.to_string(),
            author: path_str(comment, &["author", "displayName"]).map(str::to_string),
            created,
            body: rich_text(comment.get("body")),
            id,
        })
    }

    /// Whether the comment passes the query's own filters.
    pub(super) fn matches(&self, query: &CommentsQuery) -> bool {
        query.created.matches(self.created)
    }
}

fn batch(
    schema: SchemaRef,
    columns: Vec<ArrayRef>,
    rows: usize,
) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new_with_options(
        schema,
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn times(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(
        values
            .collect::<TimestampMicrosecondArray>()
            .with_timezone("UTC"),
    )
}

fn lists<'a>(values: impl Iterator<Item = Option<&'a Vec<String>>>) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for v in values {
        match v {
            Some(items) => {
                for item in items {
                    builder.values().append_value(item);
                }
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    Arc::new(builder.finish())
}

/// The record batch of `rows` with `columns`, in that order.
pub(super) fn issues_batch(
    rows: &[IssueRow],
    columns: &[IssueColumn],
) -> Result<RecordBatch, ArrowError> {
    let schema = issues_schema();
    let indices: Vec<usize> = columns.iter().map(|&c| c as usize).collect();
    let schema = Arc::new(schema.project(&indices)?);
    let arrays = columns
        .iter()
        .map(|c| {
            let r = rows.iter();
            match c {
                IssueColumn::Id => strings(r.map(|r| Some(r.id.as_str()))),
                IssueColumn::Key => strings(r.map(|r| Some(r.key.as_str()))),
                IssueColumn::Project => strings(r.map(|r| r.project.as_deref())),
                IssueColumn::IssueType => strings(r.map(|r| r.issue_type.as_deref())),
                IssueColumn::Status => strings(r.map(|r| r.status.as_deref())),
                IssueColumn::StatusCategory => strings(r.map(|r| r.status_category.as_deref())),
                IssueColumn::Priority => strings(r.map(|r| r.priority.as_deref())),
                IssueColumn::Summary => strings(r.map(|r| r.summary.as_deref())),
                IssueColumn::Description => strings(r.map(|r| r.description.as_deref())),
                IssueColumn::Assignee => strings(r.map(|r| r.assignee.as_deref())),
                IssueColumn::Reporter => strings(r.map(|r| r.reporter.as_deref())),
                IssueColumn::Labels => lists(r.map(|r| r.labels.as_ref())),
                IssueColumn::Components => lists(r.map(|r| r.components.as_ref())),
                IssueColumn::Created => times(r.map(|r| r.created)),
                IssueColumn::Updated => times(r.map(|r| r.updated)),
                IssueColumn::Resolved => times(r.map(|r| r.resolved)),
                IssueColumn::Resolution => strings(r.map(|r| r.resolution.as_deref())),
                IssueColumn::Antenna => strings(r.map(|r| r.antenna.as_deref())),
                IssueColumn::Fields => strings(r.map(|r| r.fields.as_deref())),
            }
        })
        .collect();
    batch(schema, arrays, rows.len())
}

/// The record batch of `rows` with `columns`, in that order.
pub(super) fn comments_batch(
    rows: &[CommentRow],
    columns: &[CommentColumn],
) -> Result<RecordBatch, ArrowError> {
    let schema = comments_schema();
    let indices: Vec<usize> = columns.iter().map(|&c| c as usize).collect();
    let schema = Arc::new(schema.project(&indices)?);
    let arrays = columns
        .iter()
        .map(|c| {
            let r = rows.iter();
            match c {
                CommentColumn::IssueKey => strings(r.map(|r| Some(r.issue_key.as_str()))),
                CommentColumn::Id => strings(r.map(|r| Some(r.id.as_str()))),
                CommentColumn::Author => strings(r.map(|r| r.author.as_deref())),
                CommentColumn::Created => times(r.map(|r| r.created)),
                CommentColumn::Body => strings(r.map(|r| r.body.as_deref())),
            }
        })
        .collect();
    batch(schema, arrays, rows.len())
}
