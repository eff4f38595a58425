//! Records → Arrow arrays, building only the projected columns.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int32Builder, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::parser::{CDATA, RawRecord, Span, Text};
use super::schema::{ACS_LEVELS, COLUMNS, TIME_ZONE, ValueFrom};

/// Bytes reserved per row for a string column, a guess that saves regrowth.
const STRING_BYTES_PER_ROW: usize = 16;

enum Builder {
    Time(Vec<i64>),
    Level(StringBuilder),
    LevelNum(Vec<i32>),
    Text(usize, StringBuilder),
    Int(usize, Int32Builder),
    Message(StringBuilder),
    Data(StringBuilder),
    SourceFile,
}

/// The builders of one batch, for the projected columns.
pub(super) struct BatchBuilder {
    schema: SchemaRef,
    sources: Vec<ValueFrom>,
    builders: Vec<Builder>,
    rows: usize,
    capacity: usize,
    /// Whether a projected column holds record text (worth checking the
    /// whole record's encoding once).
    needs_text: bool,
    source_file: String,
    scratch: String,
    scratch2: String,
}

fn new_builder(source: ValueFrom, capacity: usize) -> Builder {
    let strings = || StringBuilder::with_capacity(capacity, capacity * STRING_BYTES_PER_ROW);
    match source {
        ValueFrom::Time => Builder::Time(Vec::with_capacity(capacity)),
        ValueFrom::Level => Builder::Level(StringBuilder::with_capacity(capacity, capacity * 8)),
        ValueFrom::LevelNum => Builder::LevelNum(Vec::with_capacity(capacity)),
        ValueFrom::Text(attr) => Builder::Text(attr, strings()),
        ValueFrom::Int(attr) => Builder::Int(attr, Int32Builder::with_capacity(capacity)),
        ValueFrom::Message => Builder::Message(strings()),
        ValueFrom::Data => Builder::Data(strings()),
        ValueFrom::SourceFile => Builder::SourceFile,
    }
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut run = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if c < ' ' => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            write!(out, "\\u{:04x}", u32::from(c)).expect("writing to a String");
        } else {
            out.push_str(escape);
        }
        run = i + c.len_utf8();
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Whether a text segment is only whitespace (CDATA never counts as such).
fn is_blank_text(buf: &[u8], span: &Span) -> bool {
    span.flags & CDATA == 0 && span.bytes(buf).iter().all(|&b| super::parser::is_ws(b))
}

impl BatchBuilder {
    /// Builders for `projection` (indexes into the full schema, checked by
    /// the caller), `capacity` rows per batch.
    pub fn new(
        schema: SchemaRef,
        projection: &[usize],
        capacity: usize,
        source_file: &str,
    ) -> Self {
        let sources: Vec<ValueFrom> = projection.iter().map(|&i| COLUMNS[i].1).collect();
        let builders = sources.iter().map(|&s| new_builder(s, capacity)).collect();
        let needs_text = sources
            .iter()
            .any(|s| matches!(s, ValueFrom::Text(_) | ValueFrom::Message | ValueFrom::Data));
        Self {
            schema,
            sources,
            builders,
            rows: 0,
            capacity,
            needs_text,
            source_file: source_file.to_string(),
            scratch: String::new(),
            scratch2: String::new(),
        }
    }

    /// Rows appended since the last batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends the record `rec` at `buf[range]`, whose parsed `TimeStamp` is
    /// `time`.
    pub fn append(
        &mut self,
        buf: &[u8],
        range: std::ops::Range<usize>,
        rec: &RawRecord,
        time: i64,
        latin1: bool,
    ) {
        self.rows += 1;
        let text = if self.needs_text {
            Text::of_record(buf, range.start, range.end, latin1)
        } else {
            Text::new(buf, latin1)
        };
        let level = usize::from(rec.level);
        for builder in &mut self.builders {
            match builder {
                Builder::Time(values) => values.push(time),
                Builder::Level(b) => b.append_value(ACS_LEVELS[level].0),
                Builder::LevelNum(values) => values.push(ACS_LEVELS[level].1),
                Builder::Text(attr, b) => match rec.attrs[*attr] {
                    Some(span) => b.append_value(text.attr(span, &mut self.scratch)),
                    None => b.append_null(),
                },
                Builder::Int(attr, b) => {
                    b.append_option(rec.attrs[*attr].and_then(|span| {
                        text.attr(span, &mut self.scratch)
                            .trim()
                            .parse::<i32>()
                            .ok()
                    }));
                }
                Builder::Message(b) => {
                    let segs = &rec.message[..];
                    if rec.data.is_empty() {
                        if segs.is_empty() {
                            b.append_null();
                        } else {
                            b.append_value(text.segs(segs, &mut self.scratch));
                        }
                    } else {
                        // With <Data> children, whitespace-only text nodes are
                        // layout between elements, not message.
                        self.scratch2.clear();
                        let mut any = false;
                        for span in segs.iter().filter(|s| !is_blank_text(buf, s)) {
                            any = true;
                            let s = text.segs(std::slice::from_ref(span), &mut self.scratch);
                            self.scratch2.push_str(s);
                        }
                        if any {
                            b.append_value(&self.scratch2);
                        } else {
                            b.append_null();
                        }
                    }
                }
                Builder::Data(b) => {
                    let json = &mut self.scratch2;
                    json.clear();
                    for (i, child) in rec.data.iter().enumerate() {
                        let Some(name) = child.name else { continue };
                        // Duplicate names: the last one wins.
                        let later = rec.data[i + 1..]
                            .iter()
                            .any(|c| c.name.is_some_and(|n| n.bytes(buf) == name.bytes(buf)));
                        if later {
                            continue;
                        }
                        json.push(if json.is_empty() { '{' } else { ',' });
                        push_json_str(json, text.attr(name, &mut self.scratch));
                        json.push(':');
                        let value =
                            text.segs(&rec.data_segs[child.segs.clone()], &mut self.scratch);
                        push_json_str(json, value);
                    }
                    if json.is_empty() {
                        b.append_null();
                    } else {
                        json.push('}');
                        b.append_value(&*json);
                    }
                }
                Builder::SourceFile => {}
            }
        }
    }

    /// The batch of the rows appended so far; the builders start over.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let rows = std::mem::take(&mut self.rows);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.builders.len());
        for (builder, &source) in self.builders.iter_mut().zip(&self.sources) {
            let fresh = new_builder(source, self.capacity);
            let array: ArrayRef = match std::mem::replace(builder, fresh) {
                Builder::Time(values) => {
                    Arc::new(TimestampMicrosecondArray::from(values).with_timezone(TIME_ZONE))
                }
                Builder::LevelNum(values) => Arc::new(Int32Array::from(values)),
                Builder::Level(mut b)
                | Builder::Text(_, mut b)
                | Builder::Message(mut b)
                | Builder::Data(mut b) => Arc::new(b.finish()),
                Builder::Int(_, mut b) => Arc::new(b.finish()),
                Builder::SourceFile => {
                    let mut b = StringBuilder::with_capacity(rows, rows * self.source_file.len());
                    for _ in 0..rows {
                        b.append_value(&self.source_file);
                    }
                    Arc::new(b.finish())
                }
            };
            columns.push(array);
        }
        RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::push_json_str;

    #[test]
    fn json_strings() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
        let parsed: String = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }
}
