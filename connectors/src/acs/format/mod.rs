//! ACS XML log files (ALMA Common Software) as Arrow record batches.
//!
//! [`AcsBatchReader`] streams a file's records into batches of the
//! [`acs_log_schema`] columns, building only the projected ones, filtering
//! records on their raw attributes first, and stopping as soon as a limit is
//! met. It is error tolerant: a broken record is skipped, reported in
//! [`AcsBatchReader::skipped`], and reading carries on with the next record.
//!
//! # Input
//!
//! A `<Log>` document (optional `<?xml ...?>` declaration, optional
//! `<Header>`, which is ignored) or bare records one after another. A record
//! is an element named after a level of [`ACS_LEVELS`] (`<Info>`,
//! `<Trace>`, ...; the XSD's `<Alarm>` and `<Archive>` have no level number
//! and are skipped as unknown), with attributes in any order (`TimeStamp`
//! required), character content (text with entity references and/or CDATA
//! sections, possibly multi-line) and zero or more `<Data Name="...">`
//! children. UTF-8 unless the declaration says ISO-8859-1 (or latin1,
//! windows-1252: decoded as ISO-8859-1); invalid UTF-8 becomes U+FFFD.
//! Decompression is the caller's job.
//!
//! # Values
//!
//! - `time`: `TimeStamp`, ISO 8601 with any number of fractional digits
//!   (truncated to microseconds), no zone or `Z` (UTC) or an offset.
//! - `message`: the character content, entities decoded, line ends
//!   normalised to `\n`, CDATA taken as it is, text and CDATA concatenated;
//!   NULL when there is none (self-closing record, `<Info ...></Info>`).
//!   When a record has `<Data>` children, whitespace-only text nodes are
//!   layout and dropped (so a record with only `<Data>` children has a NULL
//!   message).
//! - `data`: `{"Name":"value",...}`, values as JSON strings, in document
//!   order; with duplicate names the last one wins; a `<Data>` without `Name`
//!   is ignored; NULL when no named `<Data>` children.
//! - `line`, `stack_level`, `priority`: NULL when absent or not an `i32`
//!   (`Line="abc"` keeps the record).
//! - Other attributes: the decoded value (an empty attribute is `""`, an
//!   absent one NULL); a repeated attribute: the last one wins.
//!
//! # Skipped records
//!
//! Reported with the stream offset of their `<` (or of the first garbage
//! byte): malformed XML in a record (unescaped `<` or `&`, bad entity,
//! mismatched end tag, unknown child element, unquoted attribute, ...),
//! missing or invalid `TimeStamp`, unknown element at record level, text or
//! markup between records (one entry per run), a record cut by the end of
//! the input (`truncated`), a record over [`MAX_RECORD_BYTES`]. After a
//! syntax error the reader resumes at the next `<` that starts a record
//! element, `<Log`, `</Log>`, `<Header` or `<?xml`, wherever it is in a line
//! (an unknown element is skipped up to its own end tag). So whatever follows
//! a broken record up to the next record start tag, e.g. an unknown element
//! right after it, is part of the same skipped entry. Whether a record is
//! skipped does not depend on projection or filter.

mod batch;
mod filter;
mod parser;
mod reader;
mod schema;
#[cfg(test)]
mod tests;

pub use reader::{AcsBatchReader, MAX_RECORD_BYTES, MAX_SKIPPED_KEPT};
pub use schema::{ACS_LEVELS, acs_log_schema};

/// How to scan one ACS log file.
#[derive(Debug, Clone)]
pub struct AcsScanOptions {
    /// Indexes into [`acs_log_schema`] of the columns to build, in output
    /// order; `None` for all. An empty projection yields batches with no
    /// columns and the right row count.
    pub projection: Option<Vec<usize>>,
    /// Rows per batch (at least 1); the last batch may be smaller.
    pub batch_size: usize,
    /// Stop reading once this many rows (records passing the filter) have
    /// been produced.
    pub limit: Option<usize>,
    /// Which records become rows.
    pub filter: AcsRecordFilter,
}

impl Default for AcsScanOptions {
    /// All columns, batches of 8192 rows, no limit, no filter.
    fn default() -> Self {
        Self {
            projection: None,
            batch_size: 8192,
            limit: None,
            filter: AcsRecordFilter::default(),
        }
    }
}

/// Conditions on a record, all of which must hold for it to become a row.
///
/// Evaluated on the raw attributes before any Arrow value is built. String
/// comparisons are exact (case-sensitive) on the decoded value; a record
/// without the attribute does not match; an empty list matches nothing.
#[derive(Debug, Default, Clone)]
pub struct AcsRecordFilter {
    /// Keep records with `time >= time_from_us` (µs since the epoch, UTC).
    pub time_from_us: Option<i64>,
    /// Keep records with `time < time_to_us`.
    pub time_to_us: Option<i64>,
    /// Keep records whose element name (`level`) is one of these.
    pub levels: Option<Vec<String>>,
    /// Keep records whose `Host` is one of these.
    pub hosts: Option<Vec<String>>,
    /// Keep records whose `Antenna` is one of these.
    pub antennas: Option<Vec<String>>,
    /// Keep records whose `Process` is one of these.
    pub processes: Option<Vec<String>>,
}

/// Something the reader skipped: a broken record or content that is not a
/// record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    /// Offset in the (decompressed) input of the record's `<`, or of the
    /// first byte of garbage.
    pub byte_offset: u64,
    /// What is wrong, e.g. `invalid TimeStamp "2026-13-45T99:00:00.000"`.
    pub reason: String,
    /// The element name, when the skipped thing is an element.
    pub element: Option<String>,
}

/// Why reading a file failed (broken content is skipped, not an error).
#[derive(Debug, thiserror::Error)]
pub enum AcsReadError {
    /// The underlying reader failed; the rest of the file is not read.
    #[error("reading ACS log {file}: {source}")]
    Io {
        /// The `source_file` given to the reader.
        file: String,
        /// The reader's error.
        source: std::io::Error,
    },
    /// Building a batch failed (a bug, not a property of the input).
    #[error("building ACS log batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The scan options are unusable.
    #[error("invalid ACS log scan options: {0}")]
    InvalidOptions(String),
}
