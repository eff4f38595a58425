//! File writing shared by the generators: atomic replace, Parquet, CSV.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use crate::error::{EngineError, Result};

/// Rows per Parquet row group (as DuckDB writes them).
pub const ROW_GROUP_ROWS: usize = 122_880;

/// Rows per Parquet data page at most. With the page index, a query for one
/// antenna's day of one monitor point (5 760 rows, contiguous in the sort
/// order) decodes two or three such pages rather than a 20 480-row page.
pub const PAGE_ROWS: usize = 4_096;

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| EngineError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| EngineError::io(path, e))
}

/// Writes one record batch as a Parquet file (LZ4_RAW, statistics, fixed
/// `created_by` so the bytes do not depend on the library version).
pub fn parquet(path: &Path, batch: &RecordBatch) -> Result<()> {
    let props = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_created_by("almasql demo generator".to_string())
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))
        .map_err(|e| demo_err(path, e))?;
    writer.write(batch).map_err(|e| demo_err(path, e))?;
    writer.close().map_err(|e| demo_err(path, e))?;
    atomic(path, &buf)
}

/// Writes a gzip file with a zero modification time, so bytes are stable.
pub fn gzip(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).map_err(|e| EngineError::io(path, e))?;
    let out = enc.finish().map_err(|e| EngineError::io(path, e))?;
    atomic(path, &out)
}

fn demo_err(path: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::Demo {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Shorthand for an `Arc`'d array.
pub fn arc<A: datafusion::arrow::array::Array + 'static>(
    a: A,
) -> Arc<dyn datafusion::arrow::array::Array> {
    Arc::new(a)
}

/// Formats microseconds since the Unix epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339_ms(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .expect("timestamp in range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
