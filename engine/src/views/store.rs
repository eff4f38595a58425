//! The stored view definitions: one file per view in
//! `<data_dir>/catalog/views`.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::catalog_files::{is_temp_file, object_key, parse_object_key, write_atomically};
use crate::error::{EngineError, Result};
use crate::mv_definition::MvName;

/// A view definition read from the data directory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredView {
    pub schema: String,
    pub name: String,
    pub definition: String,
    /// The columns when it was last planned.
    pub columns: SchemaRef,
}

impl StoredView {
    pub(super) fn display_name(&self) -> String {
        MvName::new(&self.schema, &self.name).to_string()
    }
}

/// The view definitions in `<data_dir>/catalog/views`, one file each.
#[derive(Debug)]
pub(crate) struct ViewStore {
    dir: PathBuf,
    /// What is on disk, so replaying a view does not write it again.
    written: Mutex<HashMap<(String, String), String>>,
}

impl ViewStore {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            written: Mutex::new(HashMap::new()),
        }
    }

    fn path(&self, schema: &str, name: &str) -> PathBuf {
        self.dir.join(format!("{}.sql", object_key(schema, name)))
    }

    /// Stores a view: a first line `-- almasql columns: <json>` (so a view
    /// that no longer plans still has its columns), then the definition.
    pub(super) fn save(
        &self,
        schema: &str,
        name: &str,
        definition: &str,
        columns: &Schema,
    ) -> Result<()> {
        let key = (schema.to_string(), name.to_string());
        let columns: Vec<(&str, String, bool)> = columns
            .fields()
            .iter()
            .map(|f| {
                (
                    f.name().as_str(),
                    f.data_type().to_string(),
                    f.is_nullable(),
                )
            })
            .collect();
        let content = format!(
            "{COLUMNS_HEADER}{}\n{definition}",
            serde_json::to_string(&columns).expect("columns serialize")
        );
        let mut written = self.written.lock().expect("not poisoned");
        if written.get(&key).is_some_and(|c| *c == content) {
            return Ok(());
        }
        let path = self.path(schema, name);
        write_atomically(&path, content.as_bytes()).map_err(|e| EngineError::io(&path, e))?;
        written.insert(key, content);
        Ok(())
    }

    pub(super) fn delete(&self, schema: &str, name: &str) -> Result<()> {
        let mut written = self.written.lock().expect("not poisoned");
        let path = self.path(schema, name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io(&path, e)),
        }
        written.remove(&(schema.to_string(), name.to_string()));
        Ok(())
    }

    pub(super) fn delete_schema(&self, schema: &str) -> Result<()> {
        for view in self.load()? {
            if view.schema == schema {
                self.delete(&view.schema, &view.name)?;
            }
        }
        Ok(())
    }

    /// Reads every stored definition, removing temp files left by a crash.
    pub(super) fn load(&self) -> Result<Vec<StoredView>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(EngineError::io(&self.dir, e)),
        };
        let mut views = vec![];
        let mut written = self.written.lock().expect("not poisoned");
        for entry in entries {
            let entry = entry.map_err(|e| EngineError::io(&self.dir, e))?;
            let path = entry.path();
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if is_temp_file(&file_name) {
                tracing::info!(path = %path.display(), "removing a temp file left by an interrupted write");
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some((schema, name)) = file_name.strip_suffix(".sql").and_then(parse_object_key)
            else {
                tracing::warn!(path = %path.display(), "ignoring a file that is not a view definition");
                continue;
            };
            let content = std::fs::read_to_string(&path).map_err(|e| EngineError::io(&path, e))?;
            let (columns, definition) = parse_stored(&content);
            written.insert((schema.clone(), name.clone()), content);
            views.push(StoredView {
                schema,
                name,
                definition,
                columns,
            });
        }
        views.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        Ok(views)
    }
}

const COLUMNS_HEADER: &str = "-- almasql columns: ";

/// Splits a stored view into its columns (empty if the header is missing
/// or unreadable) and its definition.
fn parse_stored(content: &str) -> (SchemaRef, String) {
    let Some(rest) = content.strip_prefix(COLUMNS_HEADER) else {
        return (Arc::new(Schema::empty()), content.to_string());
    };
    let (header, definition) = rest.split_once('\n').unwrap_or((rest, ""));
    let fields: Option<Vec<Field>> = serde_json::from_str::<Vec<(String, String, bool)>>(header)
        .ok()
        .and_then(|columns| {
            columns
                .into_iter()
                .map(|(name, ty, nullable)| {
                    ty.parse::<DataType>()
                        .ok()
                        .map(|ty| Field::new(name, ty, nullable))
                })
                .collect()
        });
    let schema = fields.map_or_else(Schema::empty, Schema::new);
    (Arc::new(schema), definition.to_string())
}

impl fmt::Display for StoredView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}
