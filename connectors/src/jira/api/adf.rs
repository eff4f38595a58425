//! Atlassian Document Format (ADF) to plain text.
//!
//! JIRA Cloud (REST API v3) returns descriptions and comment bodies as an
//! ADF tree: `{"type": "doc", "content": [{"type": "paragraph", "content":
//! [{"type": "text", "text": "..."}]}]}`. The text keeps what a reader
//! needs: block nodes end lines (paragraphs, headings, code blocks, rules),
//! list items are prefixed `- ` or `1. ` and indented when nested, quotes
//! `> `, table cells are separated by ` | `, and inline nodes render as
//! their text (mentions `@Name`, emoji, status lozenges, dates as
//! `YYYY-MM-DD`, links and cards as their URL). Media is left out. Unknown
//! nodes contribute their children, so a new node type loses no text.

use serde_json::Value;

/// The plain text of an ADF document (or of any ADF node).
pub fn adf_to_text(node: &Value) -> String {
    let mut out = String::new();
    block(node, &mut out, "");
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out
}

fn kind(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("attrs").and_then(|a| a.get(name))
}

fn attr_text(node: &Value, name: &str) -> Option<String> {
    match attr(node, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Starts a new line (with `prefix`) unless at the start of one.
fn new_line(out: &mut String, prefix: &str) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if out.is_empty() || out.ends_with('\n') {
        out.push_str(prefix);
    }
}

fn block(node: &Value, out: &mut String, prefix: &str) {
    match kind(node) {
        "doc" | "panel" | "layoutSection" | "layoutColumn" | "bodiedExtension" => {
            for child in children(node) {
                block(child, out, prefix);
            }
        }
        "expand" | "nestedExpand" => {
            if let Some(title) = attr_text(node, "title").filter(|t| !t.is_empty()) {
                new_line(out, prefix);
                out.push_str(&title);
                out.push('\n');
            }
            for child in children(node) {
                block(child, out, prefix);
            }
        }
        "paragraph" | "heading" => {
            new_line(out, prefix);
            inlines(children(node), out, prefix);
            out.push('\n');
        }
        "codeBlock" => {
            new_line(out, prefix);
            inlines(children(node), out, prefix);
            out.push('\n');
        }
        "blockquote" => {
            let quoted = format!("{prefix}> ");
            for child in children(node) {
                block(child, out, &quoted);
            }
        }
        "rule" => {
            new_line(out, prefix);
            out.push_str("---\n");
        }
        "bulletList" | "orderedList" => {
            let ordered = kind(node) == "orderedList";
            let start = attr(node, "order").and_then(Value::as_u64).unwrap_or(1);
            for (i, item) in children(node).iter().enumerate() {
                let marker = if ordered {
                    format!("{}. ", start + i as u64)
                } else {
                    "- ".to_string()
                };
                list_item(item, out, prefix, &marker);
            }
        }
        "table" => {
            for row in children(node) {
                new_line(out, prefix);
                for (i, cell) in children(row).iter().enumerate() {
                    if i > 0 {
                        out.push_str(" | ");
                    }
                    let mut text = String::new();
                    block(cell, &mut text, "");
                    out.push_str(text.trim_end_matches('\n').replace('\n', " ").as_str());
                }
                out.push('\n');
            }
        }
        "tableCell" | "tableHeader" | "listItem" | "taskList" | "decisionList" => {
            for child in children(node) {
                block(child, out, prefix);
            }
        }
        "taskItem" | "decisionItem" => {
            new_line(out, prefix);
            inlines(children(node), out, prefix);
            out.push('\n');
        }
        "mediaSingle" | "mediaGroup" | "media" | "extension" => {}
        _ if node.get("text").is_some() || is_inline(node) => {
            // An inline node where a block was expected: render it inline.
            new_line(out, prefix);
            inline(node, out, prefix);
            out.push('\n');
        }
        _ => {
            for child in children(node) {
                block(child, out, prefix);
            }
        }
    }
}

fn list_item(item: &Value, out: &mut String, prefix: &str, marker: &str) {
    let indent = format!("{prefix}{}", " ".repeat(marker.len()));
    let mut first = true;
    for child in children(item) {
        match kind(child) {
            "bulletList" | "orderedList" => block(child, out, &indent),
            _ if first => {
                new_line(out, prefix);
                out.push_str(marker);
                let mut text = String::new();
                block(child, &mut text, "");
                let text = text
                    .trim_end_matches('\n')
                    .replace('\n', &format!("\n{indent}"));
                out.push_str(&text);
                out.push('\n');
                first = false;
            }
            _ => block(child, out, &indent),
        }
    }
}

fn is_inline(node: &Value) -> bool {
    matches!(
        kind(node),
        "text"
            | "hardBreak"
            | "mention"
            | "emoji"
            | "date"
            | "status"
            | "inlineCard"
            | "blockCard"
            | "embedCard"
            | "placeholder"
            | "inlineExtension"
    )
}

fn inlines(nodes: &[Value], out: &mut String, prefix: &str) {
    for node in nodes {
        inline(node, out, prefix);
    }
}

fn inline(node: &Value, out: &mut String, prefix: &str) {
    match kind(node) {
        "text" => {
            let text = node.get("text").and_then(Value::as_str).unwrap_or("");
            // Text of a code block may hold newlines; keep quote prefixes.
            out.push_str(&text.replace('\n', &format!("\n{prefix}")));
        }
        "hardBreak" => {
            out.push('\n');
            out.push_str(prefix);
        }
        "mention" => {
            if let Some(text) = attr_text(node, "text") {
                if !text.starts_with('@') {
                    out.push('@');
                }
                out.push_str(&text);
            }
        }
        "emoji" => {
            if let Some(text) = attr_text(node, "text").or_else(|| attr_text(node, "shortName")) {
                out.push_str(&text);
            }
        }
        "status" | "placeholder" => {
            if let Some(text) = attr_text(node, "text") {
                out.push_str(&text);
            }
        }
        "date" => {
            let millis = attr_text(node, "timestamp").and_then(|t| t.parse::<i64>().ok());
            if let Some(date) = millis.and_then(chrono::DateTime::from_timestamp_millis) {
                out.push_str(&date.format("%Y-%m-%d").to_string());
            }
        }
        "inlineCard" | "blockCard" | "embedCard" => {
            if let Some(url) = attr_text(node, "url") {
                out.push_str(&url);
            }
        }
        _ => {
            if let Some(text) = node.get("text").and_then(Value::as_str) {
                out.push_str(text);
            }
            inlines(children(node), out, prefix);
        }
    }
}
