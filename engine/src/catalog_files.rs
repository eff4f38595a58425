//! Storage helpers shared by the persistent views and the materialized
//! views: crash-safe file writes, the `<schema>.<name>` keys their files and
//! objects are named by, and the plain (non-persisting) schemas they
//! register tables in.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::catalog::{CatalogProvider, MemorySchemaProvider, SchemaProvider};
use datafusion::error::Result as DfResult;

/// The schema `name` of `catalog`, created (in memory) if missing when
/// `create` is set.
pub(crate) fn schema_in(
    catalog: &dyn CatalogProvider,
    name: &str,
    create: bool,
) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
    match catalog.schema(name) {
        Some(s) => Ok(Some(s)),
        None if create => {
            let s: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
            catalog.register_schema(name, s.clone())?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
const TEMP_MARKER: &str = ".tmp-";

pub(crate) fn is_temp_file(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.contains(TEMP_MARKER)
}

/// Writes `bytes` to `path` so that a reader (or a crash) sees either the
/// old content or the new one: a temp file in the same directory, synced,
/// then renamed over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{file_name}{TEMP_MARKER}{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    // Make the rename itself durable; not every platform can sync a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `<schema>.<name>` with every character other than ASCII letters, digits,
/// `_` and `-` written as `+HH` (its UTF-8 bytes in hex), so any quoted name
/// makes a valid file or object name and the key splits at its one dot.
pub(crate) fn object_key(schema: &str, name: &str) -> String {
    format!("{}.{}", encode_part(schema), encode_part(name))
}

/// The inverse of [`object_key`].
pub(crate) fn parse_object_key(key: &str) -> Option<(String, String)> {
    let (schema, name) = key.split_once('.')?;
    Some((decode_part(schema)?, decode_part(name)?))
}

fn encode_part(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

fn decode_part(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = part.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_round_trip() {
        for (schema, name) in [
            ("public", "v"),
            ("Ops", "a.b/c d"),
            ("s", "ü+%"),
            ("x_y-z", ""),
        ] {
            let key = object_key(schema, name);
            assert_eq!(key.matches('.').count(), 1, "{key}");
            assert!(!key.contains('/') && !key.contains('%'), "{key}");
            assert_eq!(
                parse_object_key(&key),
                Some((schema.to_string(), name.to_string()))
            );
        }
        assert_eq!(object_key("public", "a.b"), "public.a+2Eb");
    }

    #[test]
    fn atomic_writes_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file.sql");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file.sql"]);
    }
}
