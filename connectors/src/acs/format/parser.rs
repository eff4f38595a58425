//! XML → records: a byte scanner for the XML subset ACS logs use.
//!
//! The scanner works on a buffer the reader owns, so that it can give up on
//! a broken record and carry on at the next record start tag (see
//! `reader.rs`). Parsing a record only records where its values are (spans
//! into the buffer); values are decoded (entities, line ends, encoding) when
//! a projected column needs them. Everything that can make a record invalid
//! (structure, entities, `TimeStamp`) is checked here, whatever the
//! projection, so the rows of a file do not depend on the columns asked for.

use std::borrow::Cow;

use super::schema::{N_ATTRS, attr_index};

/// The span holds entity references (`&...;`), checked well-formed.
pub(super) const AMP: u8 = 1;
/// An attribute value holds a tab, line feed or carriage return.
pub(super) const CTRL: u8 = 2;
/// A CDATA section: no entity references, taken as it is.
pub(super) const CDATA: u8 = 4;

/// Where a value is in the buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Span {
    pub start: usize,
    pub end: usize,
    pub flags: u8,
}

impl Span {
    /// The bytes of the span.
    pub fn bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.end]
    }
}

/// A `<Data Name="...">value</Data>` child.
#[derive(Clone, Debug)]
pub(super) struct DataChild {
    /// The `Name` attribute (`None`: the child is ignored).
    pub name: Option<Span>,
    /// Its value's segments, as a range of [`RawRecord::data_segs`].
    pub segs: std::ops::Range<usize>,
}

/// One parsed record: spans into the buffer, reused from record to record.
#[derive(Debug, Default)]
pub(super) struct RawRecord {
    /// Index into `ACS_LEVELS`.
    pub level: u8,
    /// The attributes, by `attr_index`.
    pub attrs: [Option<Span>; N_ATTRS],
    /// Character content segments (text and CDATA), in order.
    pub message: Vec<Span>,
    /// The `<Data>` children.
    pub data: Vec<DataChild>,
    /// The segments of the `<Data>` values.
    pub data_segs: Vec<Span>,
}

impl RawRecord {
    fn clear(&mut self, level: u8) {
        self.level = level;
        self.attrs = [None; N_ATTRS];
        self.message.clear();
        self.data.clear();
        self.data_segs.clear();
    }
}

/// Why parsing stopped.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// The buffer ends inside the construct: read more (or, at the end of the
    /// input, the construct is truncated).
    NeedMore,
    /// The construct is malformed.
    Bad(String),
}

type Parse<T> = Result<T, Stop>;

const fn byte_table(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

static NAME: [bool; 256] = {
    let mut t = byte_table(b"_:.-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    let mut b = 0x80;
    while b < 256 {
        t[b] = true;
        b += 1;
    }
    t
};

// SWAR (8 bytes at a time) searches: the scanner spends most of its time
// looking for the end of attribute values, text runs and CDATA sections.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

// Each mask has the high bit set of some bytes meeting the condition, and
// its lowest set bit is that of the first such byte (a borrow only spills into
// bytes above a true hit), so OR-ed masks locate the first byte meeting any.

/// Marks bytes of `x` that are zero.
#[inline(always)]
fn zero_mask(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Marks bytes of `x` equal to `b`.
#[inline(always)]
fn byte_mask(x: u64, b: u8) -> u64 {
    zero_mask(x ^ (ONES * u64::from(b)))
}

/// Marks bytes of `x` below `n` (`n` <= 128).
#[inline(always)]
fn below_mask(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// First index at or after `from` of a byte satisfying `hit`, which `mask`
/// computes for 8 bytes at a time.
#[inline(always)]
fn find_first(
    buf: &[u8],
    from: usize,
    mask: impl Fn(u64) -> u64,
    hit: impl Fn(u8) -> bool,
) -> Option<usize> {
    let hay = &buf[from..];
    let mut chunks = hay.chunks_exact(8);
    let mut offset = from;
    for chunk in &mut chunks {
        let m = mask(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        if m != 0 {
            return Some(offset + (m.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| hit(b))
        .map(|i| offset + i)
}

/// The end of a text run: `<` or `&`.
#[inline]
fn find_text_stop(buf: &[u8], from: usize) -> Option<usize> {
    find_first(
        buf,
        from,
        |x| byte_mask(x, b'<') | byte_mask(x, b'&'),
        |b| b == b'<' || b == b'&',
    )
}

/// The end of an attribute value, or something to look at in it: the quote,
/// `<`, `&` or a control character.
#[inline]
fn find_attr_stop(buf: &[u8], from: usize, quote: u8) -> Option<usize> {
    find_first(
        buf,
        from,
        |x| byte_mask(x, quote) | byte_mask(x, b'<') | byte_mask(x, b'&') | below_mask(x, 0x20),
        |b| b == quote || b == b'<' || b == b'&' || b < 0x20,
    )
}

#[inline]
pub(super) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[inline]
pub(super) fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

#[inline]
fn is_name(b: u8) -> bool {
    NAME[b as usize]
}

/// First index at or after `from` of `byte`.
#[inline]
pub(super) fn find_byte(buf: &[u8], from: usize, byte: u8) -> Option<usize> {
    find_first(buf, from, |x| byte_mask(x, byte), |b| b == byte)
}

/// First index at or after `from` of `needle` (not empty).
pub(super) fn find_seq(buf: &[u8], mut from: usize, needle: &[u8]) -> Option<usize> {
    loop {
        let i = find_byte(buf, from, needle[0])?;
        if buf.len() - i < needle.len() {
            return None;
        }
        if buf[i..].starts_with(needle) {
            return Some(i);
        }
        from = i + 1;
    }
}

/// Whether `rest` starts with `lit`; `NeedMore` when `rest` is a proper
/// prefix of `lit`.
#[inline]
pub(super) fn starts(rest: &[u8], lit: &[u8]) -> Parse<bool> {
    if rest.len() >= lit.len() {
        Ok(rest.starts_with(lit))
    } else if lit.starts_with(rest) {
        Err(Stop::NeedMore)
    } else {
        Ok(false)
    }
}

#[inline]
pub(super) fn skip_ws(buf: &[u8], mut p: usize) -> usize {
    while p < buf.len() && is_ws(buf[p]) {
        p += 1;
    }
    p
}

/// End of the name starting at `p`; `NeedMore` if the buffer ends first.
#[inline]
pub(super) fn name_end(buf: &[u8], mut p: usize) -> Parse<usize> {
    while p < buf.len() {
        if !is_name(buf[p]) {
            return Ok(p);
        }
        p += 1;
    }
    Err(Stop::NeedMore)
}

/// A short, printable rendering of bytes for reasons.
pub(super) fn show(bytes: &[u8]) -> Cow<'_, str> {
    const MAX: usize = 64;
    if bytes.len() > MAX {
        Cow::Owned(format!("{}...", String::from_utf8_lossy(&bytes[..MAX])))
    } else {
        String::from_utf8_lossy(bytes)
    }
}

/// The character of an entity reference's body (between `&` and `;`).
pub(super) fn entity_char(body: &[u8]) -> Option<char> {
    match body {
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"amp" => Some('&'),
        b"apos" => Some('\''),
        b"quot" => Some('"'),
        [b'#', b'x', hex @ ..] => char_ref(hex, 16),
        [b'#', dec @ ..] => char_ref(dec, 10),
        _ => None,
    }
}

fn char_ref(digits: &[u8], radix: u32) -> Option<char> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for &b in digits {
        let digit = (b as char).to_digit(radix)?;
        value = value.checked_mul(radix)?.checked_add(digit)?;
    }
    let c = char::from_u32(value)?;
    // XML 1.0 `Char`: no NUL, no other C0 control but tab/LF/CR, no U+FFFE/U+FFFF.
    let allowed =
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}');
    allowed.then_some(c)
}

/// Length of the well-formed entity reference at `buf[p] == b'&'`.
fn check_entity(buf: &[u8], p: usize) -> Parse<usize> {
    const MAX_BODY: usize = 32;
    let mut q = p + 1;
    loop {
        let Some(&b) = buf.get(q) else {
            return Err(Stop::NeedMore);
        };
        if b == b';' {
            let body = &buf[p + 1..q];
            return match entity_char(body) {
                Some(_) => Ok(q + 1 - p),
                None => Err(Stop::Bad(format!(
                    "malformed entity reference &{};",
                    show(body)
                ))),
            };
        }
        if !(b.is_ascii_alphanumeric() || b == b'#') || q - p > MAX_BODY {
            return Err(Stop::Bad(
                "'&' not followed by an entity reference".to_string(),
            ));
        }
        q += 1;
    }
}

/// Parses the attributes of a start tag from `p` (just after the element
/// name) to its end; returns the offset after the tag and whether the element
/// is self-closing (`/>`).
pub(super) fn parse_attrs(
    buf: &[u8],
    mut p: usize,
    mut on_attr: impl FnMut(&[u8], Span),
) -> Parse<(usize, bool)> {
    loop {
        p = skip_ws(buf, p);
        let Some(&b) = buf.get(p) else {
            return Err(Stop::NeedMore);
        };
        match b {
            b'>' => return Ok((p + 1, false)),
            b'/' => {
                return match buf.get(p + 1) {
                    None => Err(Stop::NeedMore),
                    Some(b'>') => Ok((p + 2, true)),
                    Some(_) => Err(Stop::Bad("'/' not followed by '>' in start tag".into())),
                };
            }
            _ if is_name_start(b) => {
                let name_start = p;
                p = name_end(buf, p)?;
                let name = &buf[name_start..p];
                p = skip_ws(buf, p);
                match buf.get(p) {
                    None => return Err(Stop::NeedMore),
                    Some(b'=') => {}
                    Some(_) => {
                        return Err(Stop::Bad(format!(
                            "attribute {} without a value",
                            show(name)
                        )));
                    }
                }
                p = skip_ws(buf, p + 1);
                let quote = match buf.get(p) {
                    None => return Err(Stop::NeedMore),
                    Some(&q @ (b'"' | b'\'')) => q,
                    Some(_) => {
                        return Err(Stop::Bad(format!(
                            "value of attribute {} not quoted",
                            show(name)
                        )));
                    }
                };
                let start = p + 1;
                let mut flags = 0;
                let mut q = start;
                let end = loop {
                    let i = find_attr_stop(buf, q, quote).ok_or(Stop::NeedMore)?;
                    match buf[i] {
                        b if b == quote => break i,
                        b'<' => {
                            return Err(Stop::Bad(format!(
                                "'<' in value of attribute {}",
                                show(name)
                            )));
                        }
                        b'&' => {
                            q = i + check_entity(buf, i)?;
                            flags |= AMP;
                        }
                        _ => {
                            flags |= CTRL;
                            q = i + 1;
                        }
                    }
                };
                on_attr(name, Span { start, end, flags });
                p = end + 1;
            }
            _ => {
                return Err(Stop::Bad(format!(
                    "unexpected {:?} in start tag",
                    char::from(b)
                )));
            }
        }
    }
}

/// Parses the text run from `p` up to the next `<`; pushes it (if not empty)
/// onto `segs`; returns the offset of the `<`.
#[inline]
fn text_run(buf: &[u8], p: usize, segs: &mut Vec<Span>) -> Parse<usize> {
    let mut flags = 0;
    let mut q = p;
    let lt = loop {
        let i = find_text_stop(buf, q).ok_or(Stop::NeedMore)?;
        if buf[i] == b'<' {
            break i;
        }
        q = i + check_entity(buf, i)?;
        flags |= AMP;
    };
    if lt > p {
        segs.push(Span {
            start: p,
            end: lt,
            flags,
        });
    }
    Ok(lt)
}

/// Markup inside a record or a `<Data>` child that is not an element.
/// Returns the offset after it, or `None` if `buf[p..]` is something else.
#[inline]
fn misc_markup(buf: &[u8], p: usize, segs: &mut Vec<Span>) -> Parse<Option<usize>> {
    let rest = &buf[p..];
    if starts(rest, b"<![CDATA[")? {
        let start = p + 9;
        let end = find_seq(buf, start, b"]]>").ok_or(Stop::NeedMore)?;
        if end > start {
            segs.push(Span {
                start,
                end,
                flags: CDATA,
            });
        }
        return Ok(Some(end + 3));
    }
    if starts(rest, b"<!--")? {
        let end = find_seq(buf, p + 4, b"-->").ok_or(Stop::NeedMore)?;
        return Ok(Some(end + 3));
    }
    if starts(rest, b"<?")? {
        let end = find_seq(buf, p + 2, b"?>").ok_or(Stop::NeedMore)?;
        return Ok(Some(end + 2));
    }
    Ok(None)
}

/// At `buf[p..]` == `</`: checks the end tag is `</name>`; returns the
/// offset after it.
fn end_tag(buf: &[u8], p: usize, name: &[u8]) -> Parse<usize> {
    let name_start = p + 2;
    let name_stop = name_end(buf, name_start)?;
    let found = &buf[name_start..name_stop];
    if found != name {
        return Err(Stop::Bad(format!(
            "mismatched end tag </{}> in <{}>",
            show(found),
            show(name)
        )));
    }
    let q = skip_ws(buf, name_stop);
    match buf.get(q) {
        None => Err(Stop::NeedMore),
        Some(b'>') => Ok(q + 1),
        Some(_) => Err(Stop::Bad(format!("malformed end tag </{}", show(name)))),
    }
}

/// The error for a `<` that starts nothing allowed here.
fn unexpected_lt(buf: &[u8], p: usize, parent: &[u8]) -> Stop {
    match buf.get(p + 1) {
        None => Stop::NeedMore,
        Some(&b) if is_name_start(b) => match name_end(buf, p + 1) {
            Ok(end) => Stop::Bad(format!(
                "unexpected element <{}> in <{}>",
                show(&buf[p + 1..end]),
                show(parent)
            )),
            Err(stop) => stop,
        },
        Some(_) => Stop::Bad(format!("unescaped '<' in the text of <{}>", show(parent))),
    }
}

/// Parses the record whose start tag is at `start`, with the element name of
/// `name_len` bytes (a known level, `level`); returns the offset after it.
pub(super) fn parse_record(
    buf: &[u8],
    start: usize,
    level: u8,
    name_len: usize,
    rec: &mut RawRecord,
) -> Parse<usize> {
    rec.clear(level);
    let name = &buf[start + 1..start + 1 + name_len];
    let attrs = &mut rec.attrs;
    let (mut p, self_closing) = parse_attrs(buf, start + 1 + name_len, |attr, span| {
        if let Some(i) = attr_index(attr) {
            attrs[i] = Some(span);
        }
    })?;
    if self_closing {
        return Ok(p);
    }
    loop {
        p = text_run(buf, p, &mut rec.message)?;
        if let Some(next) = misc_markup(buf, p, &mut rec.message)? {
            p = next;
        } else if starts(&buf[p..], b"</")? {
            return end_tag(buf, p, name);
        } else if starts(&buf[p..], b"<Data")? && !is_name(*buf.get(p + 5).ok_or(Stop::NeedMore)?) {
            p = parse_data(buf, p + 5, rec)?;
        } else {
            return Err(unexpected_lt(buf, p, name));
        }
    }
}

/// Parses a `<Data>` child from `p` (after `<Data`); returns the offset after it.
fn parse_data(buf: &[u8], p: usize, rec: &mut RawRecord) -> Parse<usize> {
    let mut name = None;
    let (mut p, self_closing) = parse_attrs(buf, p, |attr, span| {
        if attr == b"Name" {
            name = Some(span);
        }
    })?;
    let first = rec.data_segs.len();
    if !self_closing {
        loop {
            p = text_run(buf, p, &mut rec.data_segs)?;
            if let Some(next) = misc_markup(buf, p, &mut rec.data_segs)? {
                p = next;
            } else if starts(&buf[p..], b"</")? {
                p = end_tag(buf, p, b"Data")?;
                break;
            } else {
                return Err(unexpected_lt(buf, p, b"Data"));
            }
        }
    }
    rec.data.push(DataChild {
        name,
        segs: first..rec.data_segs.len(),
    });
    Ok(p)
}

/// The `encoding` pseudo-attribute of an XML declaration's body, if any.
pub(super) fn declared_encoding(decl: &[u8]) -> Option<&[u8]> {
    let at = find_seq(decl, 0, b"encoding")?;
    let p = skip_ws(decl, at + 8);
    if decl.get(p) != Some(&b'=') {
        return None;
    }
    let p = skip_ws(decl, p + 1);
    let quote = *decl.get(p)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let end = find_byte(decl, p + 1, quote)?;
    Some(&decl[p + 1..end])
}

/// Whether an encoding name means ISO-8859-1 (or its Windows superset,
/// decoded as ISO-8859-1).
pub(super) fn is_latin1(encoding: &[u8]) -> bool {
    const NAMES: [&[u8]; 9] = [
        b"iso-8859-1",
        b"iso8859-1",
        b"iso_8859-1",
        b"latin1",
        b"latin-1",
        b"l1",
        b"cp819",
        b"windows-1252",
        b"cp1252",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(encoding))
}

// ---------------------------------------------------------------- timestamps

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The last date part of a time stamp parsed, and its day number: the
/// records of a log file come in long runs of the same date.
#[derive(Debug, Default)]
pub(super) struct DayCache {
    date: [u8; 10],
    days: i64,
}

/// Days since the epoch of `YYYY-MM-DD`.
fn parse_date(s: &[u8]) -> Option<i64> {
    let two = |i: usize| -> Option<i64> {
        let (a, b) = (s[i], s[i + 1]);
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
    };
    let year = two(0)? * 100 + two(2)?;
    let month = two(5)?;
    let day = two(8)?;
    let valid = s[4] == b'-'
        && s[7] == b'-'
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month);
    valid.then(|| days_from_civil(year, month, day))
}

/// Microseconds since the epoch of an ISO 8601 time stamp
/// `YYYY-MM-DDTHH:MM:SS[.f...][Z|±HH:MM|±HHMM|±HH]`; no zone means UTC.
/// Fractional digits beyond the sixth are truncated.
pub(super) fn parse_timestamp(s: &[u8], cache: &mut DayCache) -> Option<i64> {
    let s = s.trim_ascii();
    if s.len() < 19 {
        return None;
    }
    let days = if s[..10] == cache.date {
        cache.days
    } else {
        let days = parse_date(&s[..10])?;
        cache.date.copy_from_slice(&s[..10]);
        cache.days = days;
        days
    };
    let two = |i: usize| -> Option<i64> {
        let (a, b) = (s[i], s[i + 1]);
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
    };
    let hour = two(11)?;
    let minute = two(14)?;
    let second = two(17)?;
    let separators = matches!(s[10], b'T' | b't' | b' ') && s[13] == b':' && s[16] == b':';
    if !separators || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut micros = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let first = i;
        while i < s.len() && s[i].is_ascii_digit() {
            if i - first < 6 {
                micros = micros * 10 + i64::from(s[i] - b'0');
            }
            i += 1;
        }
        let n = i - first;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_s = match &s[i..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h1, h2] => (&[*h1, *h2], b"00"),
                [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => (&[*h1, *h2], &[*m1, *m2]),
                _ => return None,
            };
            let num = |d: &[u8; 2]| -> Option<i64> {
                (d[0].is_ascii_digit() && d[1].is_ascii_digit())
                    .then(|| i64::from(d[0] - b'0') * 10 + i64::from(d[1] - b'0'))
            };
            let (h, m) = (num(h)?, num(m)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(seconds * 1_000_000 + micros)
}

// ------------------------------------------------------------------ decoding

/// Appends raw bytes in the input encoding (invalid UTF-8 becomes U+FFFD).
#[inline]
fn push_raw(out: &mut String, raw: &[u8], latin1: bool) {
    if raw.is_empty() {
        return;
    }
    if latin1 {
        out.extend(raw.iter().map(|&b| char::from(b)));
    } else {
        out.push_str(&String::from_utf8_lossy(raw));
    }
}

/// The value as it is, when nothing needs decoding (the common case).
#[inline]
pub(super) fn as_plain_str(raw: &[u8], latin1: bool) -> Option<&str> {
    if latin1 && !raw.is_ascii() {
        return None;
    }
    std::str::from_utf8(raw).ok()
}

/// Appends a span's decoded text: entity references replaced, line ends
/// normalised to `\n` (XML 1.0 §2.11) and, for attribute values, tab and line
/// ends replaced by a space (§3.3.3).
pub(super) fn decode_into(out: &mut String, raw: &[u8], flags: u8, latin1: bool, attr: bool) {
    let amp = flags & AMP != 0;
    let mut run = 0;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'&' && amp {
            if let Some(len) = find_byte(raw, i, b';').map(|semi| semi + 1 - i)
                && let Some(c) = entity_char(&raw[i + 1..i + len - 1])
            {
                push_raw(out, &raw[run..i], latin1);
                out.push(c);
                i += len;
                run = i;
                continue;
            }
        } else if b == b'\r' {
            push_raw(out, &raw[run..i], latin1);
            out.push(if attr { ' ' } else { '\n' });
            i += if raw.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            run = i;
            continue;
        } else if attr && (b == b'\t' || b == b'\n') {
            push_raw(out, &raw[run..i], latin1);
            out.push(' ');
            i += 1;
            run = i;
            continue;
        }
        i += 1;
    }
    push_raw(out, &raw[run..], latin1);
}

/// Values of a record as text.
#[derive(Clone, Copy)]
pub(super) struct Text<'a> {
    buf: &'a [u8],
    /// The record as a `str` and its offset, when it is valid as it is
    /// (UTF-8, or ASCII in an ISO-8859-1 input): a value with nothing to
    /// decode is then a slice of it, without a check of its own.
    whole: Option<(&'a str, usize)>,
    latin1: bool,
}

impl<'a> Text<'a> {
    /// Values of `buf`, each checked on its own.
    pub fn new(buf: &'a [u8], latin1: bool) -> Self {
        Self {
            buf,
            whole: None,
            latin1,
        }
    }

    /// Values of the record `buf[start..end]`, checked once for all.
    pub fn of_record(buf: &'a [u8], start: usize, end: usize, latin1: bool) -> Self {
        let whole = as_plain_str(&buf[start..end], latin1).map(|s| (s, start));
        Self { buf, whole, latin1 }
    }

    #[inline]
    fn plain(&self, span: Span) -> Option<&'a str> {
        match self.whole {
            Some((s, base)) => s.get(span.start - base..span.end - base),
            None => as_plain_str(span.bytes(self.buf), self.latin1),
        }
    }

    /// An attribute value: borrowed when nothing needs decoding, else decoded
    /// into `scratch`.
    #[inline]
    pub fn attr<'s>(&self, span: Span, scratch: &'s mut String) -> &'s str
    where
        'a: 's,
    {
        if span.flags == 0
            && let Some(s) = self.plain(span)
        {
            return s;
        }
        scratch.clear();
        decode_into(scratch, span.bytes(self.buf), span.flags, self.latin1, true);
        scratch
    }

    /// Character content segments: borrowed when a single segment needs no
    /// decoding, else decoded into `scratch`.
    #[inline]
    pub fn segs<'s>(&self, segs: &[Span], scratch: &'s mut String) -> &'s str
    where
        'a: 's,
    {
        if let [span] = segs
            && span.flags & AMP == 0
            && !span.bytes(self.buf).contains(&b'\r')
            && let Some(s) = self.plain(*span)
        {
            return s;
        }
        scratch.clear();
        for span in segs {
            decode_into(
                scratch,
                span.bytes(self.buf),
                span.flags,
                self.latin1,
                false,
            );
        }
        scratch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ts(s: &[u8]) -> Option<i64> {
        parse_timestamp(s, &mut DayCache::default())
    }

    #[test]
    fn timestamps_match_chrono() {
        let cases = [
            "2005-02-01T15:33:09.592",
            "1970-01-01T00:00:00",
            "1969-12-31T23:59:59.999999",
            "2000-02-29T12:00:00.1",
            "2024-12-31T23:59:59.123456789",
            "1600-03-01T00:00:00.000",
            "9999-12-31T23:59:59.999",
            "0001-01-01T00:00:00.000",
        ];
        for case in cases {
            let expected = chrono::NaiveDateTime::parse_from_str(case, "%Y-%m-%dT%H:%M:%S%.f")
                .unwrap()
                .and_utc()
                .timestamp_micros();
            assert_eq!(parse_ts(case.as_bytes()), Some(expected), "{case}");
            let z = format!("{case}Z");
            assert_eq!(parse_ts(z.as_bytes()), Some(expected), "{z}");
        }
        // Every day of a few years, against chrono.
        let mut day = chrono::NaiveDate::from_ymd_opt(1899, 12, 25).unwrap();
        let mut cache = DayCache::default();
        while day.year_ce().1 < 2101 {
            let text = format!("{}T01:02:03.004", day.format("%Y-%m-%d"));
            let expected = day
                .and_hms_milli_opt(1, 2, 3, 4)
                .unwrap()
                .and_utc()
                .timestamp_micros();
            assert_eq!(
                parse_timestamp(text.as_bytes(), &mut cache),
                Some(expected),
                "{text}"
            );
            assert_eq!(
                parse_timestamp(text.as_bytes(), &mut cache),
                Some(expected),
                "{text}"
            );
            day = day.succ_opt().unwrap();
        }
    }

    use chrono::Datelike;

    #[test]
    fn timestamp_zones_and_garbage() {
        let base = parse_ts(b"2005-02-01T15:33:09.592").unwrap();
        assert_eq!(parse_ts(b"2005-02-01T16:33:09.592+01:00"), Some(base));
        assert_eq!(parse_ts(b"2005-02-01T14:03:09.592-0130"), Some(base));
        assert_eq!(parse_ts(b"2005-02-01T17:33:09.592+02"), Some(base));
        assert_eq!(parse_ts(b" 2005-02-01T15:33:09.592 "), Some(base));
        for bad in [
            "2026-13-45T99:00:00.000",
            "2005-02-29T00:00:00",
            "2005-02-01T24:00:00",
            "2005-02-01T15:33:60",
            "2005-02-01T15:33:09.",
            "2005-02-01T15:33:09.5x",
            "2005-02-01T15:33",
            "2005-02-01X15:33:09",
            "2005/02/01T15:33:09",
            "2005-02-01T15:33:09.592ZZ",
            "2005-02-01T15:33:09+25:00",
            "",
        ] {
            assert_eq!(parse_ts(bad.as_bytes()), None, "{bad}");
            let mut primed = DayCache::default();
            assert!(parse_timestamp(b"2005-02-01T15:33:09.592", &mut primed).is_some());
            assert_eq!(parse_timestamp(bad.as_bytes(), &mut primed), None, "{bad}");
        }
    }

    #[test]
    fn swar_searches_find_the_first_hit() {
        let mut state = 0x1234_5678_9abc_def0_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let alphabet = b"ab\"'<&\t\n\x01 \x7f\x80\xff]";
            let bytes: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i % 60)) as usize + i * 7) % alphabet.len()])
                .collect();
            let from = if len > 0 {
                (state >> 40) as usize % len
            } else {
                0
            };
            let naive = |pred: &dyn Fn(u8) -> bool| {
                bytes[from..]
                    .iter()
                    .position(|&b| pred(b))
                    .map(|i| from + i)
            };
            assert_eq!(
                find_text_stop(&bytes, from),
                naive(&|b| b == b'<' || b == b'&')
            );
            for quote in [b'"', b'\''] {
                assert_eq!(
                    find_attr_stop(&bytes, from, quote),
                    naive(&|b| b == quote || b == b'<' || b == b'&' || b < 0x20)
                );
            }
            assert_eq!(find_byte(&bytes, from, b']'), naive(&|b| b == b']'));
        }
    }

    #[test]
    fn entities() {
        assert_eq!(entity_char(b"amp"), Some('&'));
        assert_eq!(entity_char(b"#233"), Some('é'));
        assert_eq!(entity_char(b"#x41"), Some('A'));
        assert_eq!(entity_char(b"#xD800"), None);
        assert_eq!(entity_char(b"#0"), None);
        assert_eq!(entity_char(b"#x"), None);
        assert_eq!(entity_char(b"nbsp"), None);
        assert_eq!(check_entity(b"&amp; x", 0), Ok(5));
        assert_eq!(check_entity(b"&am", 0), Err(Stop::NeedMore));
        assert!(matches!(check_entity(b"& rising", 0), Err(Stop::Bad(_))));
        assert!(matches!(check_entity(b"&foo;", 0), Err(Stop::Bad(_))));
        let mut s = String::new();
        decode_into(&mut s, b"a &lt;b&gt; &#233;\r\nc\rd", AMP, false, false);
        assert_eq!(s, "a <b> é\nc\nd");
        s.clear();
        decode_into(&mut s, b"a\tb\r\nc &#10;", AMP | CTRL, false, true);
        assert_eq!(s, "a b c \n");
        s.clear();
        decode_into(&mut s, b"caf\xe9", 0, true, false);
        assert_eq!(s, "café");
    }

    #[test]
    fn buffer_ends_ask_for_more() {
        let mut rec = RawRecord::default();
        let full = b"<Info TimeStamp=\"2005-02-01T15:33:09.592\" Host='h'>a &amp; b<![CDATA[<c>]]><Data Name=\"k\">v</Data></Info>";
        for cut in 6..full.len() {
            assert_eq!(
                parse_record(&full[..cut], 0, 3, 4, &mut rec),
                Err(Stop::NeedMore),
                "cut at {cut}"
            );
        }
        assert_eq!(parse_record(full, 0, 3, 4, &mut rec), Ok(full.len()));
        assert_eq!(rec.message.len(), 2);
        assert_eq!(rec.data.len(), 1);
    }
}
