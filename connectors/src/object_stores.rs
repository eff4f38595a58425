//! Object stores from the configuration (`[[object_stores]]`): S3 and
//! S3-compatible servers with an endpoint and credentials, and HTTP(S)
//! servers, which are also registered on first use without configuration.

use std::fmt;
use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::aws::AmazonS3Builder;
use object_store::http::HttpBuilder;
use object_store::{ClientOptions, ObjectStore};
use serde::Deserialize;
use url::Url;

use crate::error::{ConnectorError, Result};

/// One `[[object_stores]]` entry: where a URL prefix's objects live and how
/// to authenticate. Secrets are never printed (see the `Debug` impl).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreConfig {
    /// The URL the store serves: `s3://bucket` or `https://host`.
    pub url: String,
    /// S3 endpoint of an S3-compatible server (`http://127.0.0.1:9000`);
    /// AWS when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// S3 region [default: `us-east-1`, or `AWS_REGION`].
    #[serde(default)]
    pub region: Option<String>,
    /// S3 access key id; read from `AWS_ACCESS_KEY_ID` when absent.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// S3 secret access key; read from `AWS_SECRET_ACCESS_KEY` when absent.
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// Name of an environment variable holding the secret access key, to
    /// keep the secret out of the file.
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// Allow plain `http://` endpoints (local S3-compatible servers).
    #[serde(default)]
    pub allow_http: bool,
}

impl fmt::Debug for ObjectStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreConfig")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("secret_access_key_env", &self.secret_access_key_env)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl ObjectStoreConfig {
    /// Builds the store and registers it in `runtime` for its URL.
    pub fn register(&self, runtime: &RuntimeEnv) -> Result<()> {
        let url = Url::parse(&self.url).map_err(|e| self.error(format!("invalid url: {e}")))?;
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "s3" => {
                let bucket = url
                    .host_str()
                    .ok_or_else(|| self.error("an s3 url names a bucket: s3://bucket".into()))?;
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_allow_http(self.allow_http);
                if let Some(endpoint) = &self.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                builder = builder.with_region(self.region.as_deref().unwrap_or("us-east-1"));
                if let Some(key) = &self.access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                let secret = match (&self.secret_access_key, &self.secret_access_key_env) {
                    (Some(s), _) => Some(s.clone()),
                    (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                        self.error(format!("environment variable {var} is not set"))
                    })?),
                    (None, None) => None,
                };
                if let Some(secret) = secret {
                    builder = builder.with_secret_access_key(secret);
                }
                // Build errors may quote the builder's settings: keep only
                // their kind, never the values.
                Arc::new(builder.build().map_err(|e| {
                    self.error(format!(
                        "cannot build the S3 client: {}",
                        redact(&e.to_string())
                    ))
                })?)
            }
            "http" | "https" => Arc::new(
                HttpBuilder::new()
                    .with_url(self.url.clone())
                    .with_client_options(ClientOptions::new().with_allow_http(true))
                    .build()
                    .map_err(|e| self.error(format!("cannot build the HTTP client: {e}")))?,
            ),
            other => {
                return Err(self.error(format!(
                    "unsupported scheme `{other}`: expected s3, http or https"
                )));
            }
        };
        runtime.register_object_store(&url, store);
        tracing::info!(url = %self.url, endpoint = ?self.endpoint, "registered object store");
        Ok(())
    }

    fn error(&self, message: String) -> ConnectorError {
        ConnectorError::Location {
            location: self.url.clone(),
            message,
        }
    }
}

/// Removes anything that looks like a key or secret from a message.
fn redact(message: &str) -> String {
    message
        .split_whitespace()
        .map(|w| {
            if w.len() >= 16
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/+=".contains(c))
            {
                "<redacted>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The store for `url`: registered ones first; an `http(s)://` host is
/// registered on first use.
pub fn store_for(runtime: &RuntimeEnv, url: &ObjectStoreUrl) -> Result<Arc<dyn ObjectStore>> {
    if let Ok(store) = runtime.object_store(url) {
        return Ok(store);
    }
    let parsed: &Url = url.as_ref();
    match parsed.scheme() {
        "http" | "https" => {
            let store: Arc<dyn ObjectStore> = Arc::new(
                HttpBuilder::new()
                    .with_url(url.as_str())
                    .with_client_options(ClientOptions::new().with_allow_http(true))
                    .build()
                    .map_err(|e| ConnectorError::Location {
                        location: url.as_str().to_string(),
                        message: format!("cannot build the HTTP client: {e}"),
                    })?,
            );
            runtime.register_object_store(parsed, store.clone());
            Ok(store)
        }
        _ => Err(ConnectorError::Location {
            location: url.as_str().to_string(),
            message: "no object store is configured for this URL; add an [[object_stores]] entry"
                .into(),
        }),
    }
}
