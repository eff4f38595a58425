//! Finding and opening a source's files through object_store: local paths,
//! `s3://` (a store registered from the configuration) and `http(s)://`.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::object_store::ObjectStoreUrl;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::error::{ConnectorError, Result};
use crate::object_stores;

/// Read buffer of a file: large enough that parsing, not I/O calls, dominates.
const READ_BUFFER: usize = 256 * 1024;

/// One file of a source, ready to be opened on a blocking thread.
#[derive(Clone)]
pub struct SourceFile {
    /// The store that holds the file.
    pub store: Arc<dyn ObjectStore>,
    /// The file's path inside the store.
    pub path: StorePath,
    /// The file's path on disk when the store is the local file system.
    pub local: Option<PathBuf>,
    /// Size in bytes as stored (compressed size for `.gz`).
    pub size: u64,
    /// Full name shown to users: a local path or a URL.
    pub display: String,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl SourceFile {
    /// True when the file is gzip-compressed (by its `.gz` extension).
    pub fn is_gzip(&self) -> bool {
        self.path.as_ref().ends_with(".gz")
    }

    /// Opens the file for streaming reads, decompressed. Call from a blocking
    /// thread: remote stores are bridged from `handle`'s runtime.
    pub fn open_blocking(
        &self,
        handle: &tokio::runtime::Handle,
    ) -> Result<Box<dyn BufRead + Send>> {
        let raw: Box<dyn std::io::Read + Send> = match &self.local {
            Some(path) => Box::new(
                std::fs::File::open(path).map_err(|e| ConnectorError::io(&self.display, e))?,
            ),
            None => {
                let store = self.store.clone();
                let path = self.path.clone();
                let stream = handle
                    .block_on(async move { store.get(&path).await })
                    .map_err(|e| ConnectorError::store(&self.display, e))?
                    .into_stream()
                    .map_err(std::io::Error::other);
                Box::new(SyncIoBridge::new_with_handle(
                    StreamReader::new(stream),
                    handle.clone(),
                ))
            }
        };
        Ok(if self.is_gzip() {
            Box::new(BufReader::with_capacity(
                READ_BUFFER,
                flate2::read::MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, raw)),
            ))
        } else {
            Box::new(BufReader::with_capacity(READ_BUFFER, raw))
        })
    }

    /// Reads the whole file (decompressed) into memory; for small files such
    /// as catalogs.
    pub async fn read_all(&self) -> Result<Vec<u8>> {
        let bytes = self
            .store
            .get(&self.path)
            .await
            .map(|r| r.bytes())
            .map_err(|e| ConnectorError::store(&self.display, e))?
            .await
            .map_err(|e| ConnectorError::store(&self.display, e))?;
        if self.is_gzip() {
            let mut out = vec![];
            std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                &mut out,
            )
            .map_err(|e| ConnectorError::io(&self.display, e))?;
            Ok(out)
        } else {
            Ok(bytes.to_vec())
        }
    }
}

/// Where a source's files are: a directory, a single file or a glob, as a
/// local path or a URL.
#[derive(Debug, Clone)]
pub struct SourceLocation {
    url: ListingTableUrl,
    text: String,
}

impl SourceLocation {
    /// Parses a location: `/data/logs/`, `./x.csv`, `/data/*.xml`,
    /// `s3://bucket/prefix/`, `https://host/file.csv`.
    pub fn parse(text: &str) -> Result<Self> {
        let url = if text.contains("://") {
            ListingTableUrl::parse(text)
        } else {
            let path = std::path::absolute(text).map_err(|e| ConnectorError::io(text, e))?;
            let mut s = path.to_string_lossy().into_owned();
            if (text.ends_with('/') || path.is_dir()) && !s.ends_with('/') {
                s.push('/');
            }
            ListingTableUrl::parse(&s)
        }
        .map_err(|e| ConnectorError::Location {
            location: text.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            url,
            text: text.to_string(),
        })
    }

    /// The location as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The object store URL (`file://`, `s3://bucket`, `https://host`).
    pub fn store_url(&self) -> ObjectStoreUrl {
        self.url.object_store()
    }

    /// Lists the files at this location whose names end with one of
    /// `extensions` (all files when empty), sorted by path.
    pub async fn list(
        &self,
        session: &dyn Session,
        extensions: &[&str],
    ) -> Result<Vec<SourceFile>> {
        let store_url = self.store_url();
        let store = object_stores::store_for(session.runtime_env(), &store_url).map_err(|e| {
            ConnectorError::Location {
                location: self.text.clone(),
                message: e.to_string(),
            }
        })?;
        let local_root = (store_url.as_str() == "file:///").then_some(());
        if local_root.is_some() {
            let path = std::path::Path::new("/").join(self.url.prefix().as_ref());
            if !path.exists() {
                return Err(ConnectorError::Location {
                    location: self.text.clone(),
                    message: format!("{} does not exist", path.display()),
                });
            }
        }
        let metas: Vec<_> = if self.url.is_collection() || self.url.get_glob().is_some() {
            // Every file below the prefix, at any depth (DataFusion's own
            // listing skips subdirectories that are not hive partitions).
            let url = self.url.clone();
            store
                .list(Some(self.url.prefix()))
                .try_filter(move |m| futures::future::ready(url.contains(&m.location, false)))
                .try_collect()
                .await
                .map_err(|e| ConnectorError::store(&self.text, e))?
        } else {
            vec![
                store
                    .head(self.url.prefix())
                    .await
                    .map_err(|e| ConnectorError::store(&self.text, e))?,
            ]
        };
        let mut files: Vec<SourceFile> = metas
            .into_iter()
            .filter(|m| {
                let name = m.location.as_ref();
                extensions.is_empty() || extensions.iter().any(|e| name.ends_with(e))
            })
            .map(|m| {
                let local = local_root.map(|_| PathBuf::from(format!("/{}", m.location)));
                let display = match &local {
                    Some(p) => p.display().to_string(),
                    None => format!("{}{}", store_url.as_str(), m.location),
                };
                SourceFile {
                    store: store.clone(),
                    path: m.location,
                    local,
                    size: m.size,
                    display,
                }
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}

/// Splits `files` into at most `n` groups of similar total size, keeping
/// each group in path order.
pub fn split_into_groups(files: Vec<SourceFile>, n: usize) -> Vec<Vec<SourceFile>> {
    let n = n.max(1).min(files.len().max(1));
    let total: u64 = files.iter().map(|f| f.size.max(1)).sum();
    let target = total.div_ceil(n as u64);
    let mut groups: Vec<Vec<SourceFile>> = vec![vec![]];
    let mut size = 0;
    for file in files {
        if size >= target && groups.len() < n {
            groups.push(vec![]);
            size = 0;
        }
        size += file.size.max(1);
        groups.last_mut().expect("one group").push(file);
    }
    groups
}
