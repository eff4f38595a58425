//! The streaming reader: owns the input buffer, walks the top level of the
//! document, hands records to the parser and recovers from broken ones.
//!
//! Recovery: when a record (or anything else at the top level) is broken,
//! one [`SkippedRecord`] is reported at its offset and the reader scans
//! forward, without parsing, to the next `<` that starts a known record
//! element (`<Info `, `<Trace>`, ...), `<Log`, `</Log>`, `<Header` or
//! `<?xml`, and carries on there. The bytes passed over are dropped from the
//! buffer as the scan goes, so recovery never holds more than a chunk.

use std::io::{ErrorKind, Read};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::batch::BatchBuilder;
use super::filter::CompiledFilter;
use super::parser::{
    DayCache, RawRecord, Stop, Text, declared_encoding, find_byte, find_seq, is_latin1,
    is_name_start, is_ws, name_end, parse_attrs, parse_record, parse_timestamp, show, skip_ws,
    starts,
};
use super::schema::{A_TIMESTAMP, ACS_LEVELS, COLUMNS, acs_log_schema, level_index};
use super::{AcsReadError, AcsScanOptions, SkippedRecord};

/// Bytes read from the input at a time (at least).
const CHUNK: usize = 128 * 1024;
/// A record (or other top-level construct) that does not fit in this many
/// bytes of buffer is skipped (smaller ones never are).
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;
/// At most this many skipped records are kept (all are counted).
pub const MAX_SKIPPED_KEPT: usize = 10_000;

/// What starts at a `<` at the top level.
enum Top {
    Record {
        level: u8,
        name_len: usize,
    },
    /// `<?...?>`: the XML declaration or a processing instruction.
    Pi,
    /// `<!--...-->`.
    Comment,
    /// `<!DOCTYPE ...>` or other `<!...>`.
    Declaration,
    /// `<Log ...>`, `</Log>`, `<Header .../>` or `<Header ...>...</Header>`;
    /// its attributes start at `attrs_from` (relative to the `<`).
    Tag {
        attrs_from: usize,
        header: bool,
    },
    /// Any other element.
    Unknown {
        name_len: usize,
    },
    /// Another end tag, or `<` not starting markup.
    Garbage,
}

/// Classifies `rest` (starting with `<`); `NeedMore` if it is too short to
/// tell.
fn classify(rest: &[u8]) -> Result<Top, Stop> {
    let Some(&second) = rest.get(1) else {
        return Err(Stop::NeedMore);
    };
    match second {
        b'?' => Ok(Top::Pi),
        b'!' => Ok(if starts(rest, b"<!--")? {
            Top::Comment
        } else {
            Top::Declaration
        }),
        b'/' => {
            let end = name_end(rest, 2)?;
            Ok(if &rest[2..end] == b"Log" {
                Top::Tag {
                    attrs_from: end,
                    header: false,
                }
            } else {
                Top::Garbage
            })
        }
        b if is_name_start(b) => {
            let end = name_end(rest, 1)?;
            let name = &rest[1..end];
            Ok(match level_index(name) {
                Some(level) => Top::Record {
                    level,
                    name_len: name.len(),
                },
                None if name == b"Log" || name == b"Header" => Top::Tag {
                    attrs_from: end,
                    header: name == b"Header",
                },
                None => Top::Unknown {
                    name_len: name.len(),
                },
            })
        }
        _ => Ok(Top::Garbage),
    }
}

/// Whether the `<` at `rest[0]` is where recovery resumes; `None` if `rest`
/// is too short to tell.
fn is_resync_point(rest: &[u8], eof: bool) -> Option<bool> {
    const LONGEST: usize = 12; // "<Emergency" + one byte, "</Log>", "<?xml "
    let ends_name = |b: u8| is_ws(b) || b == b'>' || b == b'/';
    let (name_start, end_tag) = match rest.get(1) {
        Some(b'/') => (2, true),
        Some(b'?') if rest.len() < 5 && !eof => return None,
        Some(b'?') => return Some(rest.starts_with(b"<?xml")),
        Some(_) => (1, false),
        None => return if eof { Some(false) } else { None },
    };
    let stop = rest[name_start..]
        .iter()
        .position(|&b| !b.is_ascii_alphabetic())
        .map(|i| name_start + i);
    let Some(stop) = stop else {
        return if eof || rest.len() >= LONGEST {
            Some(false)
        } else {
            None
        };
    };
    let name = &rest[name_start..stop];
    let known = if end_tag {
        name == b"Log"
    } else {
        level_index(name).is_some() || name == b"Log" || name == b"Header"
    };
    Some(known && ends_name(rest[stop]))
}

/// Reads ACS XML log records from a byte stream as Arrow record batches.
///
/// The input may be a `<Log>` document (with an optional XML declaration and
/// `<Header>`) or bare records one after another. The reader does its own
/// buffering, so any [`Read`] works (a `BufRead` too; no need for a
/// `BufReader`). Broken records are skipped and listed in
/// [`skipped`](Self::skipped); only I/O errors end the stream with an `Err`.
pub struct AcsBatchReader<R: Read> {
    reader: R,
    /// The input window: `buf[pos..end]` is unread; `buf[0]` is at stream
    /// offset `base`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    base: u64,
    eof: bool,
    latin1: bool,
    /// Scanning forward to the next record after a broken one.
    resyncing: bool,
    /// While resyncing after an unknown element: its name, whose end tag
    /// also ends the resync.
    resync_until: Vec<u8>,
    rec: RawRecord,
    filter: CompiledFilter,
    batch: BatchBuilder,
    schema: SchemaRef,
    batch_size: usize,
    limit: Option<usize>,
    produced: usize,
    done: bool,
    records_read: u64,
    skipped: Vec<SkippedRecord>,
    skipped_count: u64,
    scratch: String,
    days: DayCache,
    source_file: String,
    /// [`MAX_RECORD_BYTES`], smaller in tests.
    pub(super) max_record_bytes: usize,
}

impl<R: Read> AcsBatchReader<R> {
    /// A reader of `reader`, whose rows get `source_file` in the
    /// `source_file` column.
    ///
    /// Fails if `options.batch_size` is 0 or the projection names a column
    /// that [`acs_log_schema`] does not have.
    pub fn new(
        reader: R,
        source_file: &str,
        options: AcsScanOptions,
    ) -> Result<Self, AcsReadError> {
        if options.batch_size == 0 {
            return Err(AcsReadError::InvalidOptions(
                "batch_size must be at least 1".into(),
            ));
        }
        let projection = options
            .projection
            .unwrap_or_else(|| (0..COLUMNS.len()).collect());
        if let Some(&bad) = projection.iter().find(|&&i| i >= COLUMNS.len()) {
            return Err(AcsReadError::InvalidOptions(format!(
                "projection index {bad} out of range: the schema has {} columns",
                COLUMNS.len()
            )));
        }
        let schema = std::sync::Arc::new(acs_log_schema().project(&projection)?);
        let capacity = options
            .limit
            .map_or(options.batch_size, |l| l.clamp(1, options.batch_size));
        Ok(Self {
            reader,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            latin1: false,
            resyncing: false,
            resync_until: Vec::new(),
            rec: RawRecord::default(),
            filter: CompiledFilter::new(&options.filter),
            batch: BatchBuilder::new(
                std::sync::Arc::clone(&schema),
                &projection,
                capacity,
                source_file,
            ),
            schema,
            batch_size: options.batch_size,
            limit: options.limit,
            produced: 0,
            done: false,
            records_read: 0,
            skipped: Vec::new(),
            skipped_count: 0,
            scratch: String::new(),
            days: DayCache::default(),
            source_file: source_file.to_string(),
            max_record_bytes: MAX_RECORD_BYTES,
        })
    }

    /// The schema of the batches: [`acs_log_schema`] projected.
    pub fn schema(&self) -> SchemaRef {
        std::sync::Arc::clone(&self.schema)
    }

    /// The records and other content skipped so far (at most
    /// [`MAX_SKIPPED_KEPT`]; see [`skipped_count`](Self::skipped_count)).
    pub fn skipped(&self) -> &[SkippedRecord] {
        &self.skipped
    }

    /// How many records and garbage runs were skipped so far, including
    /// those beyond [`MAX_SKIPPED_KEPT`].
    pub fn skipped_count(&self) -> u64 {
        self.skipped_count
    }

    /// Well-formed records read so far, whether or not they passed the
    /// filter.
    pub fn records_read(&self) -> u64 {
        self.records_read
    }

    fn skip(&mut self, at: usize, reason: String, element: Option<&[u8]>) {
        self.skipped_count += 1;
        if self.skipped.len() < MAX_SKIPPED_KEPT {
            self.skipped.push(SkippedRecord {
                byte_offset: self.base + at as u64,
                reason,
                element: element.map(|e| show(e).into_owned()),
            });
        }
    }

    /// Reports what starts at `at` as skipped and recovers after it.
    fn skip_and_resync(&mut self, at: usize, reason: String, element: Option<&[u8]>) {
        self.skip(at, reason, element);
        self.pos = at + 1;
        self.resyncing = true;
    }

    /// Reads more input after `buf[pos..end]`: at least a chunk, and at least
    /// as much as is already pending (so a big record is re-scanned a
    /// logarithmic number of times).
    fn fill(&mut self) -> Result<(), AcsReadError> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        let target = self.end + CHUNK.max(self.end);
        if self.buf.len() < target {
            self.buf.resize(target, 0);
        }
        let start = self.end;
        while self.end < target {
            match self.reader.read(&mut self.buf[self.end..target]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(AcsReadError::Io {
                        file: self.source_file.clone(),
                        source,
                    });
                }
            }
        }
        if self.base == 0 && start == 0 && self.buf[..self.end].starts_with(b"\xEF\xBB\xBF") {
            self.pos = 3; // UTF-8 byte order mark
        }
        Ok(())
    }

    /// The construct at `pos` needs more input than the buffer holds.
    fn need_more(&mut self, element: Option<&[u8]>) -> Result<(), AcsReadError> {
        if self.eof {
            let element = element.map(<[u8]>::to_vec);
            self.skip_and_resync(self.pos, "truncated".into(), element.as_deref());
        } else if self.end - self.pos > self.max_record_bytes {
            let element = element.map(<[u8]>::to_vec);
            let reason = format!("larger than {} bytes", self.max_record_bytes);
            self.skip_and_resync(self.pos, reason, element.as_deref());
        } else {
            self.fill()?;
        }
        Ok(())
    }

    /// At `lt`, while resyncing after an unknown element: the offset after
    /// its end tag if that is what starts there, `Some(None)` if not, `None`
    /// if the buffer is too short to tell.
    fn unknown_end(&self, lt: usize) -> Option<Option<usize>> {
        let name = &self.resync_until;
        if name.is_empty() {
            return Some(None);
        }
        let buf = &self.buf[..self.end];
        let too_short = if self.eof { Some(None) } else { None };
        for (from, lit) in [(lt, &b"</"[..]), (lt + 2, &name[..])] {
            match starts(&buf[from..], lit) {
                Err(_) => return too_short,
                Ok(false) => return Some(None),
                Ok(true) => {}
            }
        }
        let gt = skip_ws(buf, lt + 2 + name.len());
        match buf.get(gt) {
            Some(b'>') => Some(Some(gt + 1)),
            Some(_) => Some(None),
            None => too_short,
        }
    }

    /// Scans forward to the next resynchronisation point.
    fn resync(&mut self) -> Result<(), AcsReadError> {
        loop {
            let Some(lt) = find_byte(&self.buf[..self.end], self.pos, b'<') else {
                self.pos = self.end;
                if self.eof {
                    self.resyncing = false;
                    self.resync_until.clear();
                    return Ok(());
                }
                self.fill()?;
                continue;
            };
            match self.unknown_end(lt) {
                Some(Some(after)) => {
                    self.pos = after;
                    self.resyncing = false;
                    self.resync_until.clear();
                    return Ok(());
                }
                Some(None) => {}
                None => {
                    self.pos = lt;
                    self.fill()?;
                    continue;
                }
            }
            match is_resync_point(&self.buf[lt..self.end], self.eof) {
                Some(true) => {
                    self.resync_until.clear();
                    self.pos = lt;
                    self.resyncing = false;
                    return Ok(());
                }
                Some(false) => self.pos = lt + 1,
                None => {
                    self.pos = lt;
                    self.fill()?;
                }
            }
        }
    }

    /// Skips the top-level construct at `pos` ending with `close`.
    fn skip_past(&mut self, from: usize, close: &[u8]) -> Result<(), AcsReadError> {
        match find_seq(&self.buf[..self.end], from, close) {
            Some(i) => self.pos = i + close.len(),
            None => self.need_more(None)?,
        }
        Ok(())
    }

    /// Parses until one row was appended (`true`) or the input ends.
    fn next_row(&mut self) -> Result<bool, AcsReadError> {
        loop {
            if self.resyncing {
                self.resync()?;
            }
            while self.pos < self.end && is_ws(self.buf[self.pos]) {
                self.pos += 1;
            }
            if self.pos == self.end {
                if self.eof {
                    return Ok(false);
                }
                self.fill()?;
                continue;
            }
            let at = self.pos;
            let buf = &self.buf[..self.end];
            if buf[at] != b'<' {
                self.skip_and_resync(at, "unexpected text between records".into(), None);
                continue;
            }
            let top = match classify(&buf[at..]) {
                Ok(top) => top,
                Err(_) => {
                    self.need_more(None)?;
                    continue;
                }
            };
            match top {
                Top::Record { level, name_len } => {
                    match parse_record(buf, at, level, name_len, &mut self.rec) {
                        Ok(after) => {
                            self.pos = after;
                            if self.accept(at) {
                                return Ok(true);
                            }
                        }
                        Err(Stop::NeedMore) => {
                            let name = ACS_LEVELS[usize::from(level)].0.as_bytes();
                            self.need_more(Some(name))?;
                        }
                        Err(Stop::Bad(reason)) => {
                            let name = ACS_LEVELS[usize::from(level)].0.as_bytes();
                            self.skip_and_resync(at, reason, Some(name));
                        }
                    }
                }
                Top::Unknown { name_len } => {
                    let name = buf[at + 1..at + 1 + name_len].to_vec();
                    let reason = format!("unknown log level element <{}>", show(&name));
                    match parse_attrs(buf, at + 1 + name_len, |_, _| {}) {
                        Ok((after, self_closing)) => {
                            self.skip(at, reason, Some(&name));
                            self.pos = after;
                            if !self_closing {
                                // Skip its content up to its end tag.
                                self.resyncing = true;
                                self.resync_until = name;
                            }
                        }
                        Err(Stop::NeedMore) => self.need_more(Some(&name))?,
                        Err(Stop::Bad(_)) => self.skip_and_resync(at, reason, Some(&name)),
                    }
                }
                Top::Garbage => {
                    self.skip_and_resync(at, "unexpected markup between records".into(), None);
                }
                Top::Comment => self.skip_past(at + 4, b"-->")?,
                Top::Declaration => self.skip_past(at + 2, b">")?,
                Top::Pi => match find_seq(buf, at + 2, b"?>") {
                    Some(end) => {
                        let body = &buf[at + 2..end];
                        if body.starts_with(b"xml")
                            && let Some(encoding) = declared_encoding(body)
                        {
                            self.latin1 = is_latin1(encoding);
                        }
                        self.pos = end + 2;
                    }
                    None => self.need_more(None)?,
                },
                Top::Tag { attrs_from, header } => {
                    match parse_attrs(buf, at + attrs_from, |_, _| {}) {
                        Ok((after, self_closing)) => {
                            if header && !self_closing {
                                self.skip_past(after, b"</Header>")?;
                            } else {
                                self.pos = after;
                            }
                        }
                        Err(Stop::NeedMore) => self.need_more(None)?,
                        Err(Stop::Bad(reason)) => self.skip_and_resync(at, reason, None),
                    }
                }
            }
        }
    }

    /// A record was parsed at `at`: checks its time stamp and filters it;
    /// whether it became a row.
    fn accept(&mut self, at: usize) -> bool {
        let buf = &self.buf[..self.end];
        let rec = &self.rec;
        let level = ACS_LEVELS[usize::from(rec.level)].0.as_bytes();
        let Some(span) = rec.attrs[A_TIMESTAMP] else {
            self.skip(at, "missing TimeStamp".into(), Some(level));
            return false;
        };
        let text = Text::new(buf, self.latin1).attr(span, &mut self.scratch);
        let Some(time) = parse_timestamp(text.as_bytes(), &mut self.days) else {
            let reason = format!("invalid TimeStamp {:?}", show(text.as_bytes()));
            self.skip(at, reason, Some(level));
            return false;
        };
        self.records_read += 1;
        if !self
            .filter
            .matches(buf, rec, time, self.latin1, &mut self.scratch)
        {
            return false;
        }
        self.batch.append(buf, at..self.pos, rec, time, self.latin1);
        true
    }
}

impl<R: Read> std::iter::FusedIterator for AcsBatchReader<R> {}

impl<R: Read> Iterator for AcsBatchReader<R> {
    type Item = Result<RecordBatch, AcsReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let want = match self.limit {
            Some(limit) => self.batch_size.min(limit - self.produced),
            None => self.batch_size,
        };
        while self.batch.rows() < want {
            match self.next_row() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.produced += self.batch.rows();
        if self.limit.is_some_and(|limit| self.produced >= limit) {
            self.done = true;
        }
        if self.batch.rows() == 0 {
            return None;
        }
        Some(self.batch.finish().map_err(AcsReadError::from))
    }
}
