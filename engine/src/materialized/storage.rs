//! Where materialized views keep their rows: Parquet files in an object
//! store, one directory per view, switched between versions by a manifest.
//!
//! ```text
//! <root>/<schema>.<name>/manifest.json        the current version (replaced atomically)
//! <root>/<schema>.<name>/v<N>/part-0.parquet  the files of version N
//! ```
//!
//! A refresh writes version N+1 beside the current one and then replaces
//! the manifest with one `put` (atomic on local files and on S3). Readers
//! plan against the manifest they saw, and the files of the previous version
//! are kept until the next successful refresh, so a reader that started
//! before a switch still finds its files. Anything else under a view's
//! directory (a version a crash left half written, temp files of an
//! interrupted upload) is a leftover that [`Storage::cleanup`] removes.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::buffered::BufWriter;
use datafusion::object_store::path::Path;
use datafusion::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use datafusion::parquet::arrow::arrow_writer::ArrowWriterOptions;
use datafusion::parquet::arrow::{AsyncArrowWriter, parquet_to_arrow_schema};
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::mv_definition::RefreshMode;

const MANIFEST: &str = "manifest.json";
const MANIFEST_FORMAT: u32 = 1;

/// The manifest of one materialized view: which files make its current
/// version, and which files of the previous version are kept for readers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Layout version of this file.
    pub format: u32,
    /// Increases by one with every successful refresh.
    pub version: u64,
    /// The query the data was computed from.
    pub query: String,
    /// The mode of the refresh that wrote it.
    pub mode: RefreshMode,
    /// When the refresh that wrote it started (µs since the epoch, UTC).
    pub refreshed_at_us: i64,
    /// Rows of the current version.
    pub rows: u64,
    /// Bytes of the current version's files.
    pub bytes: u64,
    /// The current version's files.
    pub files: Vec<DataFile>,
    /// Files of the previous version that are not in `files`, kept until
    /// the next successful refresh for readers that planned against it.
    #[serde(default)]
    pub previous_files: Vec<String>,
}

/// One Parquet file of a materialized view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DataFile {
    /// Path relative to the view's directory, e.g. `v3/part-0.parquet`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Number of rows.
    pub rows: u64,
}

/// The object store and root directory materialized views live in.
#[derive(Debug)]
pub(crate) struct Storage {
    store: Arc<dyn ObjectStore>,
    store_url: ObjectStoreUrl,
    root: Path,
    /// The root as a local directory when the store is the local file
    /// system: temp files of interrupted uploads are only visible there.
    local_root: Option<PathBuf>,
}

impl Storage {
    /// Storage in the local directory `dir`, through the session's object
    /// store registry (`file://`).
    pub fn local(ctx: &SessionContext, dir: &std::path::Path) -> DfResult<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| DataFusionError::IoError(e).context(dir.display().to_string()))?;
        let dir = std::path::absolute(dir)?;
        let mut url_text = format!("file://{}", dir.to_string_lossy());
        if !url_text.ends_with('/') {
            url_text.push('/');
        }
        let mut storage = Self::at(ctx, &url_text)?;
        storage.local_root = Some(dir);
        Ok(storage)
    }

    /// Storage under `url` (e.g. `file:///data/materialized/` or
    /// `s3://bucket/prefix/`), whose store must be registered in the session.
    pub fn at(ctx: &SessionContext, url: &str) -> DfResult<Self> {
        let url = ListingTableUrl::parse(url)?;
        let store_url = url.object_store();
        let store = ctx.runtime_env().object_store(&store_url)?;
        Ok(Self {
            store,
            store_url,
            root: url.prefix().clone(),
            local_root: None,
        })
    }

    fn view_dir(&self, key: &str) -> Path {
        self.root.clone().join(key)
    }

    fn object(&self, key: &str, relative: &str) -> Path {
        relative
            .split('/')
            .fold(self.view_dir(key), |path, part| path.join(part))
    }

    /// The URL of a view's file, for a listing table.
    pub fn file_url(&self, key: &str, relative: &str) -> DfResult<ListingTableUrl> {
        ListingTableUrl::parse(format!(
            "{}{}",
            self.store_url.as_str(),
            self.object(key, relative)
        ))
    }

    /// The keys (`<schema>.<name>`) of the views that have a directory.
    pub async fn keys(&self) -> DfResult<Vec<String>> {
        let listing = self.store.list_with_delimiter(Some(&self.root)).await?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    /// The view's manifest, `None` if it has none (never refreshed).
    pub async fn read_manifest(&self, key: &str) -> DfResult<Option<Manifest>> {
        let path = self.object(key, MANIFEST);
        let bytes = match self.store.get(&path).await {
            Ok(result) => result.bytes().await?,
            Err(datafusion::object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| DataFusionError::Execution(format!("invalid manifest {path}: {e}")))?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(DataFusionError::Execution(format!(
                "manifest {path} has format {}, this almasql reads {MANIFEST_FORMAT}",
                manifest.format
            )));
        }
        Ok(Some(manifest))
    }

    /// Replaces the view's manifest in one step.
    pub async fn write_manifest(&self, key: &str, manifest: &Manifest) -> DfResult<()> {
        let bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.store
            .put(&self.object(key, MANIFEST), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Writes `stream` into the Parquet file `relative`, each batch taken
    /// as `schema`. With `skip_empty`, an empty stream writes no file and
    /// returns `None`.
    pub async fn write_parquet(
        &self,
        key: &str,
        relative: &str,
        mut stream: SendableRecordBatchStream,
        schema: SchemaRef,
        properties: WriterProperties,
        skip_empty: bool,
    ) -> DfResult<Option<DataFile>> {
        let path = self.object(key, relative);
        let mut writer: Option<AsyncArrowWriter<BufWriter>> = None;
        let mut rows = 0u64;
        // The properties carry the Arrow schema already (as DataFusion's
        // own Parquet sink does it).
        let open = || {
            AsyncArrowWriter::try_new_with_options(
                BufWriter::new(self.store.clone(), path.clone()),
                schema.clone(),
                ArrowWriterOptions::new()
                    .with_properties(properties.clone())
                    .with_skip_arrow_metadata(true),
            )
        };
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())?;
            rows += batch.num_rows() as u64;
            if writer.is_none() {
                writer = Some(open()?);
            }
            writer.as_mut().expect("opened above").write(&batch).await?;
        }
        let writer = match writer {
            Some(w) => w,
            None if skip_empty => return Ok(None),
            None => open()?,
        };
        writer.close().await?;
        let size = self.store.head(&path).await?.size;
        Ok(Some(DataFile {
            path: relative.to_string(),
            size,
            rows,
        }))
    }

    /// The Arrow schema stored in a data file's footer.
    pub async fn read_schema(&self, key: &str, relative: &str) -> DfResult<SchemaRef> {
        // The footer: metadata, its length (4 bytes LE) and `PAR1`.
        let path = self.object(key, relative);
        let size = self.store.head(&path).await?.size;
        let corrupt = || DataFusionError::Execution(format!("{path} is not a Parquet file"));
        if size < 12 {
            return Err(corrupt());
        }
        let tail = self.store.get_range(&path, size - 8..size).await?;
        if &tail[4..] != b"PAR1" {
            return Err(corrupt());
        }
        let length = u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")) as u64;
        if length + 8 > size {
            return Err(corrupt());
        }
        let metadata = self
            .store
            .get_range(&path, size - 8 - length..size - 8)
            .await?;
        let metadata = ParquetMetaDataReader::decode_metadata(&metadata)?;
        let file = metadata.file_metadata();
        Ok(Arc::new(parquet_to_arrow_schema(
            file.schema_descr(),
            file.key_value_metadata(),
        )?))
    }

    /// Removes everything under the view's directory that `manifest` does
    /// not reference (its files, the previous version's files and the
    /// manifest itself stay); without a manifest, everything. Returns the
    /// number of objects removed.
    pub async fn cleanup(&self, key: &str, manifest: Option<&Manifest>) -> DfResult<usize> {
        let mut keep: HashSet<Path> = HashSet::new();
        if let Some(manifest) = manifest {
            keep.insert(self.object(key, MANIFEST));
            for file in &manifest.files {
                keep.insert(self.object(key, &file.path));
            }
            for file in &manifest.previous_files {
                keep.insert(self.object(key, file));
            }
        }
        let dir = self.view_dir(key);
        let objects: Vec<_> = self.store.list(Some(&dir)).collect().await;
        let mut removed = 0;
        for object in objects {
            let object = object?;
            if !keep.contains(&object.location) {
                tracing::debug!(object = %object.location, "removing a materialized-view leftover");
                match self.store.delete(&object.location).await {
                    Ok(()) | Err(datafusion::object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                removed += 1;
            }
        }
        removed += self.cleanup_local(key);
        Ok(removed)
    }

    /// Removes the temp files of interrupted uploads (`<name>#<digits>`,
    /// which the local store does not list) and empty directories.
    fn cleanup_local(&self, key: &str) -> usize {
        let Some(root) = &self.local_root else {
            return 0;
        };
        fn walk(dir: &std::path::Path, removed: &mut usize) -> bool {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return false;
            };
            let mut empty = true;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if walk(&path, removed) {
                        let _ = std::fs::remove_dir(&path);
                    } else {
                        empty = false;
                    }
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                let staging = name
                    .rsplit_once('#')
                    .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if staging && std::fs::remove_file(&path).is_ok() {
                    tracing::debug!(path = %path.display(), "removed an interrupted upload");
                    *removed += 1;
                } else {
                    empty = false;
                }
            }
            empty
        }
        let mut removed = 0;
        let dir = root.join(key);
        if walk(&dir, &mut removed) {
            let _ = std::fs::remove_dir(&dir);
        }
        removed
    }

    /// Removes the view's directory and everything in it.
    pub async fn delete_all(&self, key: &str) -> DfResult<()> {
        self.cleanup(key, None).await.map(|_| ())
    }

    /// Removes the objects under `relative` (a version directory).
    pub async fn delete_prefix(&self, key: &str, relative: &str) -> DfResult<()> {
        let prefix = self.object(key, relative);
        let objects: Vec<_> = self.store.list(Some(&prefix)).collect().await;
        for object in objects {
            match self.store.delete(&object?.location).await {
                Ok(()) | Err(datafusion::object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.cleanup_local(key);
        Ok(())
    }
}
