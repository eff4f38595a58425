//! Errors of the JIRA source. Each names the source and the URL or file it
//! concerns; none ever holds a credential (messages taken from a response
//! body have the token scrubbed out before they get here).

use arrow::error::ArrowError;

/// An error of the JIRA source.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    /// The options are invalid (missing URL, both antenna rules, ...).
    #[error("JIRA source {source_name}: invalid options: {message}")]
    Options {
        /// The source's name (its schema).
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// JIRA refused the credentials (HTTP 401 or 403).
    #[error("authentication failed for JIRA source {source_name} at {base_url}: HTTP {status}")]
    Auth {
        /// The source's name.
        source_name: String,
        /// The configured base URL.
        base_url: String,
        /// 401 or 403.
        status: u16,
    },
    /// JIRA rejected the request (HTTP 400), usually the JQL: an unknown
    /// project, status or issue key, or a field JIRA does not know.
    #[error("JIRA source {source_name} rejected the request to {url}: HTTP 400: {messages}")]
    BadRequest {
        /// The source's name.
        source_name: String,
        /// The request URL.
        url: String,
        /// JIRA's `errorMessages` and `errors`, joined by `; `.
        messages: String,
    },
    /// Any other unsuccessful HTTP status, or retries given up.
    #[error("JIRA source {source_name}: HTTP {status} from {url}: {message}")]
    Status {
        /// The source's name.
        source_name: String,
        /// The request URL.
        url: String,
        /// The last HTTP status.
        status: u16,
        /// The start of the response body, or why retrying stopped.
        message: String,
    },
    /// No complete answer within the configured timeout.
    #[error("JIRA source {source_name}: no answer from {url} within {seconds} s")]
    Timeout {
        /// The source's name.
        source_name: String,
        /// The request URL.
        url: String,
        /// The configured timeout.
        seconds: u64,
    },
    /// The request could not be sent or its answer not read.
    #[error("JIRA source {source_name}: request to {url} failed: {message}")]
    Transport {
        /// The source's name.
        source_name: String,
        /// The request URL.
        url: String,
        /// The HTTP client's error and its causes.
        message: String,
    },
    /// The answer is not JSON.
    #[error("{url}: malformed JSON from JIRA: {source}")]
    Json {
        /// The request URL.
        url: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The answer is JSON but not what the JIRA API documents.
    #[error("{url}: unexpected JIRA response: {message}")]
    Response {
        /// The request URL.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// An exported search page that cannot be used.
    #[error("{file}: {message}")]
    Export {
        /// The file's name.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// Building a record batch failed.
    #[error("building JIRA record batch: {0}")]
    Arrow(#[from] ArrowError),
}

/// Result type of the JIRA source.
pub type Result<T, E = JiraError> = std::result::Result<T, E>;
