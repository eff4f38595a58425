//! A local cache of remote catalog files, revalidated with ETag and
//! Last-Modified after a TTL.
//!
//! `<cache_dir>/<key>.data` holds the body, `<key>.json` its validators and
//! when it was last confirmed fresh. Files are replaced by rename, so a
//! reader never sees half a download.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use object_store::{GetOptions, ObjectStore};
use serde::{Deserialize, Serialize};

use crate::error::{ConnectorError, Result};
use crate::files::SourceLocation;

/// Validators of a cached file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Meta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    /// Seconds since the Unix epoch when the cache was last known fresh.
    checked_at: u64,
}

/// The bytes of the catalog at `location`: read directly when local, from
/// the cache when it was confirmed fresh within `ttl`, otherwise fetched or
/// revalidated over HTTP.
pub async fn fetch(location: &str, cache_dir: &Path, ttl: Duration) -> Result<Vec<u8>> {
    if !location.starts_with("http://") && !location.starts_with("https://") {
        return read_local(location).await;
    }
    let key = cache_key(location);
    let data_path = cache_dir.join(format!("{key}.data"));
    let meta_path = cache_dir.join(format!("{key}.json"));
    let meta: Option<Meta> = tokio::fs::read(&meta_path)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|m: &Meta| m.url == location && data_path.exists());
    let now = now_secs();
    if let Some(m) = &meta
        && now.saturating_sub(m.checked_at) < ttl.as_secs()
    {
        tracing::debug!(url = location, "calibrator catalog served from the cache");
        return tokio::fs::read(&data_path)
            .await
            .map_err(|e| ConnectorError::io(data_path.display().to_string(), e));
    }

    let parsed = SourceLocation::parse(location)?;
    let store = object_store::http::HttpBuilder::new()
        .with_url(parsed.store_url().as_str())
        .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
        .build()
        .map_err(|e| ConnectorError::store(location, e))?;
    let path = object_store::path::Path::parse(
        url::Url::parse(location)
            .map_err(|e| ConnectorError::Location {
                location: location.to_string(),
                message: e.to_string(),
            })?
            .path()
            .trim_start_matches('/'),
    )
    .map_err(|e| ConnectorError::Location {
        location: location.to_string(),
        message: e.to_string(),
    })?;
    let options = GetOptions {
        if_none_match: meta.as_ref().and_then(|m| m.etag.clone()),
        if_modified_since: meta
            .as_ref()
            .and_then(|m| m.last_modified.as_deref())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc)),
        ..Default::default()
    };
    match store.get_opts(&path, options).await {
        Err(object_store::Error::NotModified { .. }) => {
            tracing::debug!(url = location, "calibrator catalog not modified");
            let mut m = meta.expect("validators were sent, so there is a cached copy");
            m.checked_at = now;
            write_atomic(
                &meta_path,
                &serde_json::to_vec(&m).expect("meta serializes"),
            )
            .await?;
            tokio::fs::read(&data_path)
                .await
                .map_err(|e| ConnectorError::io(data_path.display().to_string(), e))
        }
        Err(e) => Err(ConnectorError::store(location, e)),
        Ok(result) => {
            let etag = result.meta.e_tag.clone();
            let last_modified = Some(result.meta.last_modified.to_rfc3339());
            let bytes = result
                .bytes()
                .await
                .map_err(|e| ConnectorError::store(location, e))?;
            tokio::fs::create_dir_all(cache_dir)
                .await
                .map_err(|e| ConnectorError::io(cache_dir.display().to_string(), e))?;
            write_atomic(&data_path, &bytes).await?;
            let m = Meta {
                url: location.to_string(),
                etag,
                last_modified,
                checked_at: now,
            };
            write_atomic(
                &meta_path,
                &serde_json::to_vec(&m).expect("meta serializes"),
            )
            .await?;
            tracing::info!(
                url = location,
                bytes = bytes.len(),
                "fetched calibrator catalog"
            );
            Ok(bytes.to_vec())
        }
    }
}

async fn read_local(location: &str) -> Result<Vec<u8>> {
    let path = location.strip_prefix("file://").unwrap_or(location);
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| ConnectorError::io(path, e))?;
    if path.ends_with(".gz") {
        let mut out = vec![];
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out)
            .map_err(|e| ConnectorError::io(path, e))?;
        return Ok(out);
    }
    Ok(bytes)
}

async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(|e| ConnectorError::io(tmp.display().to_string(), e))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| ConnectorError::io(path.display().to_string(), e))
}

/// A file-name-safe key for a URL: readable prefix plus a hash.
fn cache_key(url: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut h);
    let readable: String = url
        .rsplit('/')
        .next()
        .unwrap_or("catalog")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("{readable}-{:016x}", h.finish())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
