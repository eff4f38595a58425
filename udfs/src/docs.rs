//! Renders the function reference (`docs/functions.md`) from the functions'
//! own [`Documentation`](datafusion::logical_expr::Documentation).
//!
//! The unit test in this module fails when the committed page is stale; run
//! `UPDATE_DOCS=1 cargo test --release -p almasql-udfs docs` to rewrite it.

use std::fmt::Write;

use crate::{AlmaFunction, all_functions};

/// The function reference as Markdown, sections in family order.
pub fn render_markdown() -> String {
    let functions = all_functions();
    let mut sections: Vec<(String, String, Vec<&AlmaFunction>)> = Vec::new();
    for f in &functions {
        let Some(doc) = f.documentation() else {
            continue;
        };
        let label = doc.doc_section.label.to_string();
        match sections.iter_mut().find(|(l, _, _)| *l == label) {
            Some((_, _, list)) => list.push(f),
            None => sections.push((
                label,
                doc.doc_section.description.unwrap_or_default().to_string(),
                vec![f],
            )),
        }
    }

    let mut out = String::new();
    out.push_str("# almasql function reference\n\n");
    out.push_str(
        "<!-- Generated from the functions' #[user_doc] documentation by \
         udfs/src/docs.rs. Do not edit by hand: run \
         `UPDATE_DOCS=1 cargo test --release -p almasql-udfs docs` -->\n\n",
    );
    out.push_str(
        "ALMA domain functions registered in every almasql session. Every \
         example below is executed by the test suite and must print the shown \
         result.\n\n",
    );
    for (label, description, list) in &sections {
        let _ = writeln!(out, "## {label}\n");
        if !description.is_empty() {
            let _ = writeln!(out, "{description}\n");
        }
        for f in list {
            let _ = writeln!(out, "- [{}](#{}) ({})", f.name(), f.name(), f.kind());
        }
        out.push('\n');
        for f in list {
            render_function(&mut out, f);
        }
    }
    out
}

/// One query of a documented `sql_example` and the table it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleQuery {
    /// The query (the `> ` line and its continuation lines).
    pub sql: String,
    /// The printed table, as lines (`+---+` borders and `| a |` rows).
    pub table: Vec<String>,
}

impl ExampleQuery {
    /// The cells of the table's `|` lines, trimmed: the header first.
    pub fn cells(&self) -> Vec<Vec<String>> {
        self.table
            .iter()
            .filter_map(|l| l.strip_prefix('|')?.strip_suffix('|'))
            .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
            .collect()
    }
}

/// The queries of a documented `sql_example` (lines starting `> `) with the
/// tables printed after them.
pub fn example_queries(example: &str) -> Vec<ExampleQuery> {
    let mut queries: Vec<ExampleQuery> = Vec::new();
    let mut in_query = false;
    for line in example.lines() {
        let line = line.trim_end();
        if line.starts_with("```") {
            in_query = false;
            continue;
        }
        if let Some(sql) = line.strip_prefix("> ") {
            queries.push(ExampleQuery {
                sql: sql.to_string(),
                table: Vec::new(),
            });
            in_query = true;
        } else if line.starts_with('+') || line.starts_with('|') {
            in_query = false;
            if let Some(query) = queries.last_mut() {
                query.table.push(line.to_string());
            }
        } else if in_query && let Some(query) = queries.last_mut() {
            query.sql.push('\n');
            query.sql.push_str(line);
        }
    }
    queries
}

fn render_function(out: &mut String, f: &AlmaFunction) {
    let Some(doc) = f.documentation() else {
        return;
    };
    let _ = writeln!(out, "### `{}`\n", f.name());
    let _ = writeln!(out, "_{} function_\n", f.kind());
    let _ = writeln!(out, "{}\n", doc.description.trim());
    let _ = writeln!(out, "```sql\n{}\n```\n", doc.syntax_example.trim());
    if let Some(args) = &doc.arguments {
        out.push_str("#### Arguments\n\n");
        for (name, description) in args {
            let _ = writeln!(out, "- **{name}**: {}", description.trim());
        }
        out.push('\n');
    }
    if let Some(example) = &doc.sql_example {
        out.push_str("#### Example\n\n");
        let _ = writeln!(out, "{}\n", example.trim());
    }
    if let Some(related) = &doc.related_udfs {
        let links = related
            .iter()
            .map(|r| format!("[{r}](#{r})"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "Related: {links}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The package's directory: Cargo's `CARGO_MANIFEST_DIR` of this run, which
    /// is this checkout's even when a checkout sharing the target directory
    /// built the binary; else the build's.
    fn manifest_dir() -> std::path::PathBuf {
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
            || env!("CARGO_MANIFEST_DIR").into(),
            std::path::PathBuf::from,
        )
    }

    #[test]
    fn docs_functions_md_is_up_to_date() {
        let path = manifest_dir().join("../docs/functions.md");
        let rendered = render_markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).expect("write docs/functions.md");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/functions.md is stale; regenerate it with \
             `UPDATE_DOCS=1 cargo test --release -p almasql-udfs docs`"
        );
    }

    #[test]
    fn every_function_appears_in_the_reference() {
        let rendered = render_markdown();
        for f in all_functions() {
            assert!(
                rendered.contains(&format!("### `{}`", f.name())),
                "{}",
                f.name()
            );
        }
    }
}
