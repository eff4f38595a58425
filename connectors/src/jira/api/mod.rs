//! JIRA as a data source: `jira.issues` and `jira.comments`.
//!
//! ALMA tracks hardware faults in JIRA; engineers join tickets with monitor
//! data by antenna. This module is everything below the table providers:
//!
//! - [`JiraQuery`] / [`CommentsQuery`]: what the provider took from SQL
//!   (filters, projection, limit), and the JQL built from it ([`build_jql`];
//!   values escaped by [`jql_string`]); what is exact is documented on
//!   [`JiraQuery`] and answered per column by [`filter_support`];
//! - [`JiraClient`]: the REST API of JIRA Server / Data Center and JIRA
//!   Cloud, as streams of record batches, with bounded concurrency, retries
//!   on 429/503, timeouts and an optional response cache;
//! - [`export_batches`] / [`export_comment_batches`]: the same batches from
//!   exported search pages (the `jira_export` kind);
//! - [`issues_schema`] / [`comments_schema`], [`AntennaRule`] (the
//!   `antenna` column), [`adf_to_text`] (Cloud's rich text).
//!
//! Credentials ([`JiraOptions::token`]) never appear in `Debug` output,
//! logs or errors.

mod adf;
mod client;
mod convert;
mod error;
mod export;
mod jql;
mod options;
#[cfg(test)]
mod tests;

pub use adf::adf_to_text;
pub use client::JiraClient;
pub use convert::{
    AntennaRule, CommentColumn, DEFAULT_ANTENNA_REGEX, IssueColumn, comments_schema, issues_schema,
    parse_jira_timestamp,
};
pub use error::{JiraError, Result};
pub use export::{export_batches, export_comment_batches};
pub use jql::{
    CommentsQuery, FilterSupport, JQL_ORDER_BY, JQL_SLACK_AFTER_US, JQL_SLACK_BEFORE_US, JiraQuery,
    TimeRange, build_jql, filter_support, jql_string, widened_bounds,
};
pub use options::{Flavor, JiraExportOptions, JiraOptions, MAX_PAGE_SIZE};
