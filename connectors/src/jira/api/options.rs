//! Options of the `jira` (REST API) and `jira_export` (files on disk)
//! sources, as they appear in the configuration.

use std::fmt;

use serde::Deserialize;
use url::Url;

use super::convert::AntennaRule;
use super::error::{JiraError, Result};

/// The largest page JIRA serves for searches that return fields.
pub const MAX_PAGE_SIZE: usize = 100;

/// Which JIRA REST API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// JIRA Server / Data Center: `GET /rest/api/2/search`, paged by
    /// `startAt`; plain-text descriptions; personal access tokens (bearer).
    Server,
    /// JIRA Cloud: `POST /rest/api/3/search/jql`, paged by `nextPageToken`;
    /// Atlassian Document Format descriptions; e-mail + API token (basic).
    Cloud,
}

/// Options of a `jira` source: a JIRA server queried over its REST API.
///
/// Credentials: `token` (or the environment variable named by `token_env`)
/// is sent as HTTP basic auth with `email` as the user when `email` is set
/// (required for Cloud, where the token is an API token), else as a bearer
/// token (a Server / Data Center personal access token). Without a token
/// requests are anonymous. The token never appears in `Debug` output, logs
/// or errors.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JiraOptions {
    /// Schema holding `issues` and `comments`; also the source's name in
    /// errors and logs.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Base URL of the JIRA server, e.g. `https://jira.alma.cl` or
    /// `https://example.atlassian.net` (no credentials in it).
    pub url: String,
    /// `server` or `cloud`; `cloud` when the host ends with
    /// `.atlassian.net`, else `server`.
    #[serde(default)]
    pub flavor: Option<Flavor>,
    /// User (e-mail for Cloud) for basic authentication.
    #[serde(default)]
    pub email: Option<String>,
    /// The API token or personal access token.
    #[serde(default)]
    pub token: Option<String>,
    /// Name of an environment variable holding the token, read when
    /// `token` is not set.
    #[serde(default)]
    pub token_env: Option<String>,
    /// A custom field holding the antenna name, e.g. `customfield_10042`
    /// (a string, or an option `{"value": ...}`).
    #[serde(default)]
    pub antenna_field: Option<String>,
    /// A regular expression finding the antenna in the summary, then in the
    /// labels; the first match (its first group if it has one). Defaults to
    /// [`DEFAULT_ANTENNA_REGEX`](super::DEFAULT_ANTENNA_REGEX).
    #[serde(default)]
    pub antenna_regex: Option<String>,
    /// Most HTTP requests in flight at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// Timeout of one HTTP request, including reading its body.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// How long an answer is reused for the same request; 0 turns the
    /// in-memory cache off.
    #[serde(default)]
    pub cache_ttl_seconds: u64,
    /// Issues (and comments) per page, 1 to 100.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
}

fn default_schema() -> String {
    "jira".to_string()
}

fn default_max_concurrency() -> usize {
    4
}

fn default_timeout() -> u64 {
    30
}

fn default_page_size() -> usize {
    MAX_PAGE_SIZE
}

impl fmt::Debug for JiraOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraOptions")
            .field("schema", &self.schema)
            .field("url", &self.url)
            .field("flavor", &self.flavor)
            .field("email", &self.email)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_env", &self.token_env)
            .field("antenna_field", &self.antenna_field)
            .field("antenna_regex", &self.antenna_regex)
            .field("max_concurrency", &self.max_concurrency)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("cache_ttl_seconds", &self.cache_ttl_seconds)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl JiraOptions {
    /// Options for the server at `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            schema: default_schema(),
            url: url.into(),
            flavor: None,
            email: None,
            token: None,
            token_env: None,
            antenna_field: None,
            antenna_regex: None,
            max_concurrency: default_max_concurrency(),
            timeout_seconds: default_timeout(),
            cache_ttl_seconds: 0,
            page_size: default_page_size(),
        }
    }

    fn error(&self, message: impl Into<String>) -> JiraError {
        JiraError::Options {
            source_name: self.schema.clone(),
            message: message.into(),
        }
    }

    /// The base URL, checked: `http` or `https`, no credentials, query or
    /// fragment; without a trailing slash.
    pub fn base_url(&self) -> Result<Url> {
        let mut url = Url::parse(self.url.trim())
            .map_err(|e| self.error(format!("url `{}`: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(self.error(format!("url `{}` is not http(s)", self.url)));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Not echoing the URL: it holds a credential.
            return Err(self
                .error("url must not hold credentials; set `email` and `token` (or `token_env`)"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(self.error(format!("url `{}` has a query or fragment", self.url)));
        }
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        Ok(url)
    }

    /// The flavor: as configured, else guessed from the host.
    pub fn flavor(&self) -> Flavor {
        self.flavor.unwrap_or_else(|| {
            let cloud = Url::parse(self.url.trim())
                .ok()
                .and_then(|u| u.host_str().map(|h| h.to_ascii_lowercase()))
                .is_some_and(|h| h.ends_with(".atlassian.net"));
            if cloud { Flavor::Cloud } else { Flavor::Server }
        })
    }

    /// The rule that fills the `antenna` column.
    pub fn antenna_rule(&self) -> Result<AntennaRule> {
        AntennaRule::from_options(self.antenna_field.as_deref(), self.antenna_regex.as_deref())
            .map_err(|m| self.error(m))
    }

    /// The token: `token`, else the variable `token_env` names.
    pub(super) fn resolve_token(&self) -> Result<Option<String>> {
        if let Some(token) = &self.token {
            return Ok(Some(token.clone()));
        }
        match &self.token_env {
            None => Ok(None),
            Some(var) => match std::env::var(var) {
                Ok(token) if !token.is_empty() => Ok(Some(token)),
                _ => Err(self.error(format!(
                    "token_env names `{var}`, which is not set (or empty)"
                ))),
            },
        }
    }

    /// Checks the numeric options.
    pub(super) fn check_limits(&self) -> Result<()> {
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(self.error(format!(
                "page_size {} is not between 1 and {MAX_PAGE_SIZE}",
                self.page_size
            )));
        }
        if self.max_concurrency == 0 {
            return Err(self.error("max_concurrency must be at least 1"));
        }
        if self.timeout_seconds == 0 {
            return Err(self.error("timeout_seconds must be at least 1"));
        }
        Ok(())
    }
}

/// Options of a `jira_export` source: search pages exported to files (each
/// a Server-style `GET /rest/api/2/search` answer), read through
/// object_store by the caller and converted by
/// [`export_batches`](super::export_batches).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JiraExportOptions {
    /// Schema holding `issues` and `comments`.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// A directory (or glob) of `*.json` search pages.
    pub location: String,
    /// As [`JiraOptions::antenna_field`].
    #[serde(default)]
    pub antenna_field: Option<String>,
    /// As [`JiraOptions::antenna_regex`].
    #[serde(default)]
    pub antenna_regex: Option<String>,
}

impl JiraExportOptions {
    /// The rule that fills the `antenna` column.
    pub fn antenna_rule(&self) -> Result<AntennaRule> {
        AntennaRule::from_options(self.antenna_field.as_deref(), self.antenna_regex.as_deref())
            .map_err(|message| JiraError::Options {
                source_name: self.schema.clone(),
                message,
            })
    }
}
