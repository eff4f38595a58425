//! Offline mode (`jira_export`): the batches of [`JiraClient`] from search
//! pages exported to files.
//!
//! Each file is one Server-style search answer, `{"startAt": .., "maxResults":
//! .., "total": .., "issues": [...]}` (what `GET /rest/api/2/search` returns,
//! and what the demo generator writes as `jira/search-NNN.json`). The caller
//! reads the files (through object_store) and passes their names and bytes;
//! files are taken in name order, an issue id seen in an earlier file is
//! skipped, and the query is applied in memory: every filter exactly,
//! the projection, and the limit. Comments come from the issues'
//! `fields.comment.comments` when the export holds them (a search with
//! `fields=comment` or `*all`).
//!
//! [`JiraClient`]: super::JiraClient

use std::collections::HashSet;

use arrow::record_batch::RecordBatch;
use serde::Deserialize;
use serde_json::Value;

use super::convert::{
    AntennaRule, ColumnSet, CommentRow, IssueColumn, IssueRow, comments_batch, issues_batch,
};
use super::error::{JiraError, Result};
use super::jql::{CommentsQuery, JiraQuery};

#[derive(Deserialize)]
struct ExportPage {
    issues: Vec<Value>,
}

/// The issues of every page, in file order, without repeated ids.
fn pages(mut files: Vec<(String, Vec<u8>)>) -> impl Iterator<Item = Result<(String, Vec<Value>)>> {
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen = HashSet::new();
    files.into_iter().map(move |(name, bytes)| {
        let page: ExportPage = serde_json::from_slice(&bytes).map_err(|e| JiraError::Export {
            file: name.clone(),
            message: format!("not a JIRA search page: {e}"),
        })?;
        let issues = page
            .issues
            .into_iter()
            .filter(|issue| {
                let id = issue.get("id").map(Value::to_string).unwrap_or_default();
                id.is_empty() || seen.insert(id)
            })
            .collect();
        Ok((name, issues))
    })
}

fn rows(
    file: &str,
    issues: &[Value],
    needed: ColumnSet,
    query: &JiraQuery,
    antenna: &AntennaRule,
) -> Result<Vec<IssueRow>> {
    let mut rows = vec![];
    for issue in issues {
        let row =
            IssueRow::from_json(issue, needed, antenna).map_err(|message| JiraError::Export {
                file: file.to_string(),
                message,
            })?;
        if row.matches(query) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The `jira.issues` batches of exported search pages under `query`: one
/// batch per file with matching issues, holding the projected columns.
pub fn export_batches(
    files: Vec<(String, Vec<u8>)>,
    query: &JiraQuery,
    antenna: &AntennaRule,
) -> Result<Vec<RecordBatch>> {
    let columns = query.columns()?;
    if query.matches_nothing() || query.limit == Some(0) {
        return Ok(vec![]);
    }
    let needed = ColumnSet::needed(&columns, query);
    let mut remaining = query.limit.unwrap_or(usize::MAX);
    let mut batches = vec![];
    for page in pages(files) {
        let (file, issues) = page?;
        let mut rows = rows(&file, &issues, needed, query, antenna)?;
        rows.truncate(remaining);
        remaining -= rows.len();
        if !rows.is_empty() {
            batches.push(issues_batch(&rows, &columns)?);
        }
        if remaining == 0 {
            break;
        }
    }
    Ok(batches)
}

/// The `jira.comments` batches of exported search pages under `query`:
/// one batch per file with matching comments.
pub fn export_comment_batches(
    files: Vec<(String, Vec<u8>)>,
    query: &CommentsQuery,
    antenna: &AntennaRule,
) -> Result<Vec<RecordBatch>> {
    let columns = query.columns()?;
    if query.issues.matches_nothing() || query.created.is_empty() || query.limit == Some(0) {
        return Ok(vec![]);
    }
    let needed = ColumnSet::needed(&[IssueColumn::Key], &query.issues);
    let mut remaining = query.limit.unwrap_or(usize::MAX);
    let mut batches = vec![];
    for page in pages(files) {
        let (file, issues) = page?;
        let mut comments = vec![];
        for issue in &issues {
            let row = IssueRow::from_json(issue, needed, antenna).map_err(|message| {
                JiraError::Export {
                    file: file.clone(),
                    message,
                }
            })?;
            if !row.matches(&query.issues) {
                continue;
            }
            let list = issue
                .pointer("/fields/comment/comments")
                .and_then(Value::as_array);
            for comment in list.into_iter().flatten() {
                let comment = CommentRow::from_json(&row.key, comment).map_err(|message| {
                    JiraError::Export {
                        file: file.clone(),
                        message,
                    }
                })?;
                if comment.matches(query) {
                    comments.push(comment);
                }
            }
        }
        comments.truncate(remaining);
        remaining -= comments.len();
        if !comments.is_empty() {
            batches.push(comments_batch(&comments, &columns)?);
        }
        if remaining == 0 {
            break;
        }
    }
    Ok(batches)
}
