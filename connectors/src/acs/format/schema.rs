//! The Arrow schema of ACS log records, the log levels and the record
//! attributes.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The ACS log levels: element name and numeric level.
///
/// From `logging_idl.idl` (module `AcsLogLevels`) in ACS-Community/ACS. The
/// XSD (`loggingMI.xsd`) also defines `<Alarm>` and `<Archive>` elements,
/// but neither has a numeric level, so they are not records here: they are
/// reported as unknown log level elements.
pub const ACS_LEVELS: [(&str, i32); 10] = [
    ("Trace", 1),
    ("Delouse", 2),
    ("Debug", 3),
    ("Info", 4),
    ("Notice", 5),
    ("Warning", 6),
    ("Error", 8),
    ("Critical", 9),
    ("Alert", 10),
    ("Emergency", 11),
];

/// Index into [`ACS_LEVELS`] of a record element name.
#[inline]
pub(super) fn level_index(name: &[u8]) -> Option<u8> {
    let (index, equal) = match (name.len(), *name.first()?) {
        (5, b'T') => (0, eq(name, b"Trace")),
        (7, b'D') => (1, eq(name, b"Delouse")),
        (5, b'D') => (2, eq(name, b"Debug")),
        (4, b'I') => (3, eq(name, b"Info")),
        (6, b'N') => (4, eq(name, b"Notice")),
        (7, b'W') => (5, eq(name, b"Warning")),
        (5, b'E') => (6, eq(name, b"Error")),
        (8, b'C') => (7, eq(name, b"Critical")),
        (5, b'A') => (8, eq(name, b"Alert")),
        (9, b'E') => (9, eq(name, b"Emergency")),
        _ => return None,
    };
    equal.then_some(index)
}

/// The record attributes that become columns, in [`attr_index`] order.
pub(super) const N_ATTRS: usize = 17;

/// `TimeStamp`, the one required attribute.
pub(super) const A_TIMESTAMP: usize = 0;
const A_FILE: usize = 1;
const A_LINE: usize = 2;
const A_ROUTINE: usize = 3;
pub(super) const A_HOST: usize = 4;
pub(super) const A_PROCESS: usize = 5;
const A_SOURCE_OBJECT: usize = 6;
const A_CONTEXT: usize = 7;
const A_THREAD: usize = 8;
const A_LOG_ID: usize = 9;
const A_PRIORITY: usize = 10;
const A_URI: usize = 11;
const A_AUDIENCE: usize = 12;
const A_ARRAY: usize = 13;
pub(super) const A_ANTENNA: usize = 14;
const A_STACK_ID: usize = 15;
const A_STACK_LEVEL: usize = 16;

/// Index of a record attribute name; `None` for attributes without a column.
#[inline]
pub(super) fn attr_index(name: &[u8]) -> Option<usize> {
    // Dispatch on length and first byte, then compare once, inline.
    let (index, equal) = match (name.len(), *name.first()?) {
        (9, b'T') => (A_TIMESTAMP, eq(name, b"TimeStamp")),
        (4, b'F') => (A_FILE, eq(name, b"File")),
        (4, b'L') => (A_LINE, eq(name, b"Line")),
        (7, b'R') => (A_ROUTINE, eq(name, b"Routine")),
        (4, b'H') => (A_HOST, eq(name, b"Host")),
        (7, b'P') => (A_PROCESS, eq(name, b"Process")),
        (12, b'S') => (A_SOURCE_OBJECT, eq(name, b"SourceObject")),
        (7, b'C') => (A_CONTEXT, eq(name, b"Context")),
        (6, b'T') => (A_THREAD, eq(name, b"Thread")),
        (5, b'L') => (A_LOG_ID, eq(name, b"LogId")),
        (8, b'P') => (A_PRIORITY, eq(name, b"Priority")),
        (3, b'U') => (A_URI, eq(name, b"Uri")),
        (8, b'A') => (A_AUDIENCE, eq(name, b"Audience")),
        (5, b'A') => (A_ARRAY, eq(name, b"Array")),
        (7, b'A') => (A_ANTENNA, eq(name, b"Antenna")),
        (7, b'S') => (A_STACK_ID, eq(name, b"StackId")),
        (10, b'S') => (A_STACK_LEVEL, eq(name, b"StackLevel")),
        _ => return None,
    };
    equal.then_some(index)
}

/// `a == b`, compared as a fixed-size array (no call to `memcmp`).
#[inline(always)]
fn eq<const N: usize>(a: &[u8], b: &[u8; N]) -> bool {
    <&[u8; N]>::try_from(a).is_ok_and(|a| a == b)
}

/// Where a column's values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ValueFrom {
    /// `TimeStamp`, parsed.
    Time,
    /// The element name.
    Level,
    /// The numeric level of the element name.
    LevelNum,
    /// An attribute, as text.
    Text(usize),
    /// An attribute, as an `Int32` (NULL when it does not parse).
    Int(usize),
    /// The character content.
    Message,
    /// The `<Data Name="...">` children, as a JSON object.
    Data,
    /// The name the caller gave to the input.
    SourceFile,
}

/// The columns: name, source, nullable.
pub(super) const COLUMNS: [(&str, ValueFrom, bool); 22] = [
    ("time", ValueFrom::Time, false),
    ("level", ValueFrom::Level, false),
    ("level_num", ValueFrom::LevelNum, false),
    ("host", ValueFrom::Text(A_HOST), true),
    ("process", ValueFrom::Text(A_PROCESS), true),
    ("source_object", ValueFrom::Text(A_SOURCE_OBJECT), true),
    ("thread", ValueFrom::Text(A_THREAD), true),
    ("file", ValueFrom::Text(A_FILE), true),
    ("line", ValueFrom::Int(A_LINE), true),
    ("routine", ValueFrom::Text(A_ROUTINE), true),
    ("context", ValueFrom::Text(A_CONTEXT), true),
    ("log_id", ValueFrom::Text(A_LOG_ID), true),
    ("uri", ValueFrom::Text(A_URI), true),
    ("stack_id", ValueFrom::Text(A_STACK_ID), true),
    ("stack_level", ValueFrom::Int(A_STACK_LEVEL), true),
    ("priority", ValueFrom::Int(A_PRIORITY), true),
    ("audience", ValueFrom::Text(A_AUDIENCE), true),
    ("array", ValueFrom::Text(A_ARRAY), true),
    ("antenna", ValueFrom::Text(A_ANTENNA), true),
    ("message", ValueFrom::Message, true),
    ("data", ValueFrom::Data, true),
    ("source_file", ValueFrom::SourceFile, false),
];

/// The time zone of the `time` column.
pub(super) const TIME_ZONE: &str = "UTC";

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|(name, source, nullable)| {
            let data_type = match source {
                ValueFrom::Time => {
                    DataType::Timestamp(TimeUnit::Microsecond, Some(TIME_ZONE.into()))
                }
                ValueFrom::LevelNum | ValueFrom::Int(_) => DataType::Int32,
                _ => DataType::Utf8,
            };
            Field::new(*name, data_type, *nullable)
        })
        .collect();
    Arc::new(Schema::new(fields))
});

/// The full schema of an ACS log table, one row per log record.
///
/// `time` (UTC, microseconds), `level` (element name, e.g. `Info`) and
/// `level_num` (see [`ACS_LEVELS`]) and `source_file` are never NULL; the
/// attribute columns are NULL when the attribute is absent, and the integer
/// ones (`line`, `stack_level`, `priority`) also when it does not parse.
/// `message` is NULL when the record has no character content (self-closing,
/// `<Info ...></Info>`, or only `<Data>` children); `data` is a JSON object
/// of the `<Data Name="...">` children, NULL when there are none.
pub fn acs_log_schema() -> SchemaRef {
    Arc::clone(&SCHEMA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names() {
        let names = [
            "TimeStamp",
            "File",
            "Line",
            "Routine",
            "Host",
            "Process",
            "SourceObject",
            "Context",
            "Thread",
            "LogId",
            "Priority",
            "Uri",
            "Audience",
            "Array",
            "Antenna",
            "StackId",
            "StackLevel",
        ];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(attr_index(name.as_bytes()), Some(i), "{name}");
        }
        for other in [
            "",
            "T",
            "Timestamp",
            "Hosts",
            "Name",
            "AntennA",
            "Stacklevel",
        ] {
            assert_eq!(attr_index(other.as_bytes()), None, "{other}");
        }
        for (i, (name, _)) in ACS_LEVELS.iter().enumerate() {
            assert_eq!(level_index(name.as_bytes()), Some(i as u8));
        }
        assert_eq!(level_index(b"Alarm"), None);
    }
}
