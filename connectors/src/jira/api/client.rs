//! The JIRA REST client: searches and comments as streams of record
//! batches, politely.
//!
//! - Server / Data Center: `GET /rest/api/2/search?jql=..&startAt=..&
//!   maxResults=..&fields=..`, paged by `startAt` until `total`;
//!   comments from `GET /rest/api/2/issue/{key}/comment`.
//! - Cloud: `POST /rest/api/3/search/jql` with `{jql, fields, maxResults,
//!   nextPageToken}`, paged until `isLast` or no `nextPageToken`; comments
//!   from `GET /rest/api/3/issue/{key}/comment`.
//!
//! At most `max_concurrency` requests are in flight per client (a
//! semaphore shared by all its streams). 429, 502, 503 and 504 are retried
//! up to 5 attempts, after `Retry-After` when the answer has one (seconds
//! or an HTTP date, up to 2 minutes), else after an exponential backoff
//! with jitter (0.5 s doubling, at most 30 s); connection failures are
//! retried the same way. A timeout is not retried: a server that slow is
//! not helped by more load. Every HTTP request sent is counted
//! ([`JiraClient::requests_made`]). With `cache_ttl_seconds` set, successful
//! answers are kept in memory (at most 64 MiB) and reused for the same
//! request within the TTL.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use url::Url;

use super::convert::{
    AntennaRule, ColumnSet, CommentColumn, CommentRow, IssueColumn, IssueRow, comments_batch,
    issues_batch,
};
use super::error::{JiraError, Result};
use super::jql::{CommentsQuery, JiraQuery, build_jql};
use super::options::{Flavor, JiraOptions};

/// Most bytes of answers the response cache holds.
const CACHE_MAX_BYTES: usize = 64 << 20;
/// Most characters of an error body quoted in an error.
const BODY_SNIPPET: usize = 300;

/// When and how often a busy JIRA is asked again.
#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff without `Retry-After`; doubles per attempt.
    pub base_delay: Duration,
    /// Longest backoff.
    pub max_delay: Duration,
    /// Longest `Retry-After` waited for; a longer one fails the request.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Backoff before attempt `attempt + 1`: half the exponential delay
    /// plus a random part of the other half.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        exp / 2 + exp.mul_f64(jitter() / 2.0)
    }
}

/// A random number in `[0, 1)`, good enough to spread retries.
fn jitter() -> f64 {
    use std::hash::BuildHasher;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = std::collections::hash_map::RandomState::new().hash_one(nanos);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

enum Auth {
    Anonymous,
    Basic { user: String, token: String },
    Bearer(String),
}

impl Auth {
    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Anonymous => request,
            Self::Basic { user, token } => request.basic_auth(user, Some(token)),
            Self::Bearer(token) => request.bearer_auth(token),
        }
    }

    fn token(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::Basic { token, .. } | Self::Bearer(token) => Some(token.as_str()),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("token", &"<redacted>")
                .finish(),
            Self::Bearer(_) => f.debug_tuple("Bearer").field(&"<redacted>").finish(),
        }
    }
}

/// When an answer was stored, and its body.
type CachedAnswer = (Instant, Arc<[u8]>);

/// Answers kept for a TTL, keyed by method, URL and body.
struct ResponseCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, CachedAnswer>>,
}

impl ResponseCache {
    fn get(&self, key: &str) -> Option<Arc<[u8]>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, body)| body.clone())
    }

    fn insert(&self, key: String, body: Arc<[u8]>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (stored, _)| stored.elapsed() < self.ttl);
        entries.insert(key, (Instant::now(), body));
        let mut total: usize = entries.values().map(|(_, b)| b.len()).sum();
        while total > CACHE_MAX_BYTES {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (stored, _))| *stored)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((_, body)) = entries.remove(&oldest) {
                total -= body.len();
            }
        }
    }
}

struct Inner {
    name: String,
    base_url: Url,
    flavor: Flavor,
    auth: Auth,
    http: reqwest::Client,
    antenna: AntennaRule,
    page_size: usize,
    max_concurrency: usize,
    timeout: Duration,
    permits: Semaphore,
    requests: AtomicU64,
    cache: Option<ResponseCache>,
    retry: RetryPolicy,
}

/// A client of one JIRA server. Cheap to clone; clones share the request
/// limit, the counter and the cache.
#[derive(Clone)]
pub struct JiraClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraClient")
            .field("name", &self.inner.name)
            .field("base_url", &self.inner.base_url.as_str())
            .field("flavor", &self.inner.flavor)
            .field("auth", &self.inner.auth)
            .field("antenna", &self.inner.antenna)
            .field("requests", &self.requests_made())
            .finish_non_exhaustive()
    }
}

/// Where the next page of a search starts.
#[derive(Debug, Clone)]
enum Cursor {
    /// Server: the index of the first issue.
    StartAt(usize),
    /// Cloud: the token of the next page; `None` for the first.
    Token(Option<String>),
}

struct Page {
    url: String,
    issues: Vec<Value>,
    next: Option<Cursor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerSearch {
    total: Option<usize>,
    issues: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CloudSearch {
    #[serde(default)]
    issues: Vec<Value>,
    next_page_token: Option<String>,
    is_last: Option<bool>,
}

#[derive(Deserialize)]
struct CommentPage {
    total: Option<usize>,
    #[serde(default)]
    comments: Vec<Value>,
}

enum Outcome {
    Failed(reqwest::Error),
    Answered {
        status: u16,
        retry_after: Option<Duration>,
        body: Vec<u8>,
    },
}

impl JiraClient {
    /// A client for the server the options name. Fails on invalid options
    /// (URL, antenna rule, limits) or a missing token variable; makes no
    /// request.
    pub fn new(options: &JiraOptions) -> Result<Self> {
        Self::with_retry_policy(options, RetryPolicy::default())
    }

    pub(super) fn with_retry_policy(options: &JiraOptions, retry: RetryPolicy) -> Result<Self> {
        let invalid = |message: String| JiraError::Options {
            source_name: options.schema.clone(),
            message,
        };
        options.check_limits()?;
        let base_url = options.base_url()?;
        let flavor = options.flavor();
        let antenna = options.antenna_rule()?;
        let auth = match (options.resolve_token()?, &options.email) {
            (None, None) => Auth::Anonymous,
            (None, Some(_)) => {
                return Err(invalid(
                    "email is set but no token (set token or token_env)".to_string(),
                ));
            }
            (Some(token), Some(user)) => Auth::Basic {
                user: user.clone(),
                token,
            },
            (Some(_), None) if flavor == Flavor::Cloud => {
                return Err(invalid(
                    "JIRA Cloud needs `email` with the API token".to_string(),
                ));
            }
            (Some(token), None) => Auth::Bearer(token),
        };
        let timeout = Duration::from_secs(options.timeout_seconds);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent("almasql")
            .build()
            .map_err(|e| invalid(format!("HTTP client: {e}")))?;
        let cache = (options.cache_ttl_seconds > 0).then(|| ResponseCache {
            ttl: Duration::from_secs(options.cache_ttl_seconds),
            entries: Mutex::new(HashMap::new()),
        });
        tracing::debug!(source = %options.schema, url = %base_url, ?flavor, "JIRA client");
        Ok(Self {
            inner: Arc::new(Inner {
                name: options.schema.clone(),
                base_url,
                flavor,
                auth,
                http,
                antenna,
                page_size: options.page_size,
                max_concurrency: options.max_concurrency,
                timeout,
                permits: Semaphore::new(options.max_concurrency),
                requests: AtomicU64::new(0),
                cache,
                retry,
            }),
        })
    }

    /// The API this client speaks.
    pub fn flavor(&self) -> Flavor {
        self.inner.flavor
    }

    /// HTTP requests sent so far (retries included, cache hits not).
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The issues `query` selects, one batch per page of the search (pages
    /// whose issues all fail the exact filter give no batch), with the
    /// projected columns of [`issues_schema`](super::issues_schema). Pages
    /// ask for `min(page_size, rows still wanted)` issues, and paging stops
    /// once `limit` rows were returned. A query that
    /// [matches nothing](JiraQuery::matches_nothing) sends no request.
    pub fn search(&self, query: JiraQuery) -> BoxStream<'static, Result<RecordBatch>> {
        let columns = match query.columns() {
            Ok(c) => c,
            Err(e) => return stream::once(async { Err(e) }).boxed(),
        };
        let pager = IssuePager::new(self.inner.clone(), query, &columns);
        stream::try_unfold((pager, columns), |(mut pager, columns)| async move {
            match pager.next_rows().await? {
                None => Ok(None),
                Some(rows) => Ok(Some((issues_batch(&rows, &columns)?, (pager, columns)))),
            }
        })
        .boxed()
    }

    /// The comments of the issues `query.issues` selects, one batch per
    /// page of issues, with the projected columns of
    /// [`comments_schema`](super::comments_schema). The comments of a page's
    /// issues are fetched concurrently (bounded by `max_concurrency`), in
    /// pages of `page_size`; an issue deleted meanwhile (404) has none.
    pub fn comments(&self, query: CommentsQuery) -> BoxStream<'static, Result<RecordBatch>> {
        let columns = match query.columns() {
            Ok(c) => c,
            Err(e) => return stream::once(async { Err(e) }).boxed(),
        };
        let pager = IssuePager::new(self.inner.clone(), query.issue_query(), &[IssueColumn::Key]);
        let state = CommentsState {
            remaining: query.limit,
            pager,
            query,
            columns,
        };
        stream::try_unfold(state, |mut state| async move {
            match state.next_rows().await? {
                None => Ok(None),
                Some(rows) => Ok(Some((comments_batch(&rows, &state.columns)?, state))),
            }
        })
        .boxed()
    }
}

struct IssuePager {
    inner: Arc<Inner>,
    query: JiraQuery,
    jql: String,
    fields: Vec<String>,
    needed: ColumnSet,
    cursor: Option<Cursor>,
    remaining: Option<usize>,
}

impl IssuePager {
    fn new(inner: Arc<Inner>, query: JiraQuery, columns: &[IssueColumn]) -> Self {
        let needed = ColumnSet::needed(columns, &query);
        let fields = needed.jira_fields(&inner.antenna);
        let cursor = if query.matches_nothing() {
            tracing::debug!(source = %inner.name, "JIRA query matches nothing; no request");
            None
        } else {
            Some(match inner.flavor {
                Flavor::Server => Cursor::StartAt(0),
                Flavor::Cloud => Cursor::Token(None),
            })
        };
        Self {
            jql: build_jql(&query),
            remaining: query.limit,
            inner,
            query,
            fields,
            needed,
            cursor,
        }
    }

    /// The next non-empty set of matching issues, or `None` at the end.
    async fn next_rows(&mut self) -> Result<Option<Vec<IssueRow>>> {
        loop {
            if self.remaining == Some(0) {
                return Ok(None);
            }
            let Some(cursor) = self.cursor.take() else {
                return Ok(None);
            };
            let max = self
                .remaining
                .map_or(self.inner.page_size, |r| r.min(self.inner.page_size));
            let page = self
                .inner
                .search_page(&self.jql, &self.fields, &cursor, max)
                .await?;
            if let (Cursor::Token(Some(old)), Some(Cursor::Token(Some(new)))) =
                (&cursor, &page.next)
                && old == new
            {
                return Err(JiraError::Response {
                    url: page.url,
                    message: "the same nextPageToken twice; stopping instead of looping".into(),
                });
            }
            self.cursor = page.next;
            let mut rows = vec![];
            for issue in &page.issues {
                let row = IssueRow::from_json(issue, self.needed, &self.inner.antenna).map_err(
                    |message| JiraError::Response {
                        url: page.url.clone(),
                        message,
                    },
                )?;
                if row.matches(&self.query) {
                    rows.push(row);
                }
            }
            if let Some(remaining) = &mut self.remaining {
                rows.truncate(*remaining);
                *remaining -= rows.len();
            }
            tracing::debug!(source = %self.inner.name, issues = page.issues.len(), matching = rows.len(), "JIRA search page");
            if !rows.is_empty() {
                return Ok(Some(rows));
            }
        }
    }
}

struct CommentsState {
    pager: IssuePager,
    query: CommentsQuery,
    columns: Vec<CommentColumn>,
    remaining: Option<usize>,
}

impl CommentsState {
    async fn next_rows(&mut self) -> Result<Option<Vec<CommentRow>>> {
        loop {
            if self.remaining == Some(0) {
                return Ok(None);
            }
            let Some(issues) = self.pager.next_rows().await? else {
                return Ok(None);
            };
            let inner = self.pager.inner.clone();
            let per_issue: Vec<Vec<CommentRow>> = stream::iter(issues)
                .map(|issue| {
                    let inner = inner.clone();
                    async move { inner.issue_comments(&issue.key).await }
                })
                .buffered(inner.max_concurrency)
                .try_collect()
                .await?;
            let mut rows: Vec<CommentRow> = per_issue
                .into_iter()
                .flatten()
                .filter(|c| c.matches(&self.query))
                .collect();
            if let Some(remaining) = &mut self.remaining {
                rows.truncate(*remaining);
                *remaining -= rows.len();
            }
            if !rows.is_empty() {
                return Ok(Some(rows));
            }
        }
    }
}

impl Inner {
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// `text` with the token cut out, for messages quoting an answer.
    fn scrub(&self, text: &str) -> String {
        match self.auth.token() {
            Some(token) if !token.is_empty() => text.replace(token, "<redacted>"),
            _ => text.to_string(),
        }
    }

    async fn search_page(
        &self,
        jql: &str,
        fields: &[String],
        cursor: &Cursor,
        max_results: usize,
    ) -> Result<Page> {
        match cursor {
            Cursor::StartAt(start) => {
                let mut url = self.endpoint(&["rest", "api", "2", "search"]);
                url.query_pairs_mut()
                    .append_pair("jql", jql)
                    .append_pair("startAt", &start.to_string())
                    .append_pair("maxResults", &max_results.to_string())
                    .append_pair("fields", &fields.join(","));
                let answer: ServerSearch = self.fetch(&url, None).await?;
                let next = start + answer.issues.len();
                let more = !answer.issues.is_empty() && answer.total.is_none_or(|t| next < t);
                Ok(Page {
                    url: url.to_string(),
                    issues: answer.issues,
                    next: more.then_some(Cursor::StartAt(next)),
                })
            }
            Cursor::Token(token) => {
                let url = self.endpoint(&["rest", "api", "3", "search", "jql"]);
                let mut body = json!({"jql": jql, "fields": fields, "maxResults": max_results});
                if let Some(token) = token {
                    body["nextPageToken"] = Value::String(token.clone());
                }
                let answer: CloudSearch = self.fetch(&url, Some(body.to_string())).await?;
                let next = match (answer.is_last, answer.next_page_token) {
                    (Some(true), _) | (_, None) => None,
                    _ if answer.issues.is_empty() => None,
                    (_, Some(token)) => Some(Cursor::Token(Some(token))),
                };
                Ok(Page {
                    url: url.to_string(),
                    issues: answer.issues,
                    next,
                })
            }
        }
    }

    async fn issue_comments(&self, key: &str) -> Result<Vec<CommentRow>> {
        let version = match self.flavor {
            Flavor::Server => "2",
            Flavor::Cloud => "3",
        };
        let mut rows = vec![];
        let mut start = 0;
        loop {
            let mut url = self.endpoint(&["rest", "api", version, "issue", key, "comment"]);
            url.query_pairs_mut()
                .append_pair("startAt", &start.to_string())
                .append_pair("maxResults", &self.page_size.to_string());
            let page: CommentPage = match self.fetch(&url, None).await {
                Err(JiraError::Status { status: 404, .. }) => {
                    tracing::debug!(source = %self.name, key, "issue gone; no comments");
                    return Ok(rows);
                }
                other => other?,
            };
            for comment in &page.comments {
                rows.push(CommentRow::from_json(key, comment).map_err(|message| {
                    JiraError::Response {
                        url: url.to_string(),
                        message,
                    }
                })?);
            }
            start += page.comments.len();
            if page.comments.is_empty() || page.total.is_none_or(|t| start >= t) {
                return Ok(rows);
            }
        }
    }

    /// The answer to a GET (no body) or a POST of a JSON body, parsed.
    async fn fetch<T: DeserializeOwned>(&self, url: &Url, body: Option<String>) -> Result<T> {
        let bytes = self.fetch_bytes(url, body).await?;
        serde_json::from_slice(&bytes).map_err(|source| JiraError::Json {
            url: url.to_string(),
            source,
        })
    }

    async fn fetch_bytes(&self, url: &Url, body: Option<String>) -> Result<Arc<[u8]>> {
        let method = if body.is_some() { "POST" } else { "GET" };
        let cache_key = self.cache.as_ref().map(|_| match &body {
            Some(b) => format!("POST {url}\n{b}"),
            None => format!("GET {url}"),
        });
        if let (Some(cache), Some(key)) = (&self.cache, &cache_key)
            && let Some(hit) = cache.get(key)
        {
            tracing::debug!(source = %self.name, method, path = url.path(), "JIRA answer from the cache");
            return Ok(hit);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.send_once(url, method, body.as_deref(), attempt).await;
            let retry_delay = match outcome {
                Outcome::Failed(e) if e.is_timeout() => {
                    return Err(JiraError::Timeout {
                        source_name: self.name.clone(),
                        url: url.to_string(),
                        seconds: self.timeout.as_secs(),
                    });
                }
                Outcome::Failed(e) => {
                    if e.is_connect() && attempt < self.retry.max_attempts {
                        self.retry.backoff(attempt)
                    } else {
                        return Err(JiraError::Transport {
                            source_name: self.name.clone(),
                            url: url.to_string(),
                            message: self.scrub(&error_chain(e)),
                        });
                    }
                }
                Outcome::Answered { status, body, .. } if (200..300).contains(&status) => {
                    let body: Arc<[u8]> = body.into();
                    if let (Some(cache), Some(key)) = (&self.cache, cache_key) {
                        cache.insert(key, body.clone());
                    }
                    return Ok(body);
                }
                Outcome::Answered {
                    status: status @ (401 | 403),
                    ..
                } => {
                    return Err(JiraError::Auth {
                        source_name: self.name.clone(),
                        base_url: self.base_url.as_str().trim_end_matches('/').to_string(),
                        status,
                    });
                }
                Outcome::Answered {
                    status: 400, body, ..
                } => {
                    return Err(JiraError::BadRequest {
                        source_name: self.name.clone(),
                        url: url.to_string(),
                        messages: self.scrub(&jira_messages(&body)),
                    });
                }
                Outcome::Answered {
                    status: status @ (429 | 502 | 503 | 504),
                    retry_after,
                    ..
                } => {
                    let give_up = |message: String| JiraError::Status {
                        source_name: self.name.clone(),
                        url: url.to_string(),
                        status,
                        message,
                    };
                    if attempt >= self.retry.max_attempts {
                        return Err(give_up(format!("still busy after {attempt} attempts")));
                    }
                    match retry_after {
                        Some(d) if d > self.retry.max_retry_after => {
                            return Err(give_up(format!(
                                "asked to retry after {} s, more than the {} s this source waits",
                                d.as_secs(),
                                self.retry.max_retry_after.as_secs()
                            )));
                        }
                        // A little jitter, so clients told the same time
                        // do not come back together.
                        Some(d) => d + d.mul_f64(jitter() / 10.0),
                        None => self.retry.backoff(attempt),
                    }
                }
                Outcome::Answered { status, body, .. } => {
                    return Err(JiraError::Status {
                        source_name: self.name.clone(),
                        url: url.to_string(),
                        status,
                        message: self.scrub(&snippet(&body)),
                    });
                }
            };
            tracing::warn!(source = %self.name, method, path = url.path(), attempt, delay_ms = retry_delay.as_millis() as u64, "JIRA busy or unreachable; retrying");
            tokio::time::sleep(retry_delay).await;
        }
    }

    /// One HTTP exchange, holding a permit of the semaphore until the body
    /// is read.
    async fn send_once(
        &self,
        url: &Url,
        method: &str,
        body: Option<&str>,
        attempt: u32,
    ) -> Outcome {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(source = %self.name, method, path = url.path(), attempt, "JIRA request");
        let request = match body {
            Some(body) => self
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string()),
            None => self.http.get(url.clone()),
        };
        let request = self.auth.apply(request.header(ACCEPT, "application/json"));
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(e),
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        match response.bytes().await {
            Ok(bytes) => Outcome::Answered {
                status,
                retry_after,
                body: bytes.to_vec(),
            },
            Err(e) => Outcome::Failed(e),
        }
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(wait.max(0) as u64))
}

/// JIRA's `errorMessages` and `errors` of an error answer, else the start
/// of the body.
fn jira_messages(body: &[u8]) -> String {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct ErrorBody {
        error_messages: Vec<String>,
        errors: HashMap<String, Value>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) if !e.error_messages.is_empty() || !e.errors.is_empty() => {
            let mut messages = e.error_messages;
            let mut fields: Vec<_> = e.errors.into_iter().collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            for (field, message) in fields {
                let message = message
                    .as_str()
                    .map_or_else(|| message.to_string(), str::to_string);
                messages.push(format!("{field}: {message}"));
            }
            messages.join("; ")
        }
        _ => snippet(body),
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty answer)".to_string();
    }
    let mut s: String = text.chars().take(BODY_SNIPPET).collect();
    if s.len() < text.len() {
        s.push_str("...");
    }
    s
}

/// The error and its causes, without the URL (the caller names it).
fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}
