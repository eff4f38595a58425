//! Tests of the reader as a whole: the real fixture, hand-written edge
//! cases, the demo generator's broken records, projection, filters, limit.

use std::io::{Cursor, Read};

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Int32Type, TimestampMicrosecondType};

use super::*;

fn fixture() -> std::path::PathBuf {
    crate::test_support::manifest_dir().join("../tests/fixtures/acs-logs/jlog-test.xml")
}

/// Everything a reader produced.
struct Out {
    batch: RecordBatch,
    sizes: Vec<usize>,
    skipped: Vec<SkippedRecord>,
    records_read: u64,
}

impl Out {
    fn strs(&self, column: &str) -> Vec<Option<String>> {
        let array = self
            .batch
            .column_by_name(column)
            .expect(column)
            .as_string::<i32>();
        array.iter().map(|v| v.map(str::to_string)).collect()
    }

    fn str(&self, column: &str, row: usize) -> Option<String> {
        self.strs(column)[row].clone()
    }

    fn ints(&self, column: &str) -> Vec<Option<i32>> {
        let array = self.batch.column_by_name(column).expect(column);
        array.as_primitive::<Int32Type>().iter().collect()
    }

    fn times(&self) -> Vec<i64> {
        let array = self.batch.column_by_name("time").expect("time");
        array
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec()
    }

    fn reasons(&self) -> Vec<&str> {
        self.skipped.iter().map(|s| s.reason.as_str()).collect()
    }
}

fn read_with<R: Read>(input: R, options: AcsScanOptions) -> Out {
    let mut reader = AcsBatchReader::new(input, "test.xml", options).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.by_ref().map(Result::unwrap).collect();
    for b in &batches {
        assert_eq!(b.schema(), schema);
        assert!(b.num_rows() > 0, "no empty batches");
    }
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let batch = if batches.is_empty() {
        RecordBatch::new_empty(schema)
    } else if schema.fields().is_empty() {
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(schema, vec![], &options).unwrap()
    } else {
        concat_batches(&schema, &batches).unwrap()
    };
    Out {
        batch,
        sizes: batches.iter().map(RecordBatch::num_rows).collect(),
        skipped: reader.skipped().to_vec(),
        records_read: reader.records_read(),
    }
}

fn read(input: &[u8]) -> Out {
    read_with(Cursor::new(input.to_vec()), AcsScanOptions::default())
}

fn micros(ts: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

// ------------------------------------------------------------------ fixture

#[test]
fn fixture_levels_times_and_values() {
    let bytes = std::fs::read(fixture()).unwrap();
    let out = read(&bytes);
    assert_eq!(out.skipped, vec![]);
    assert_eq!(out.batch.num_rows(), 300);
    assert_eq!(out.records_read, 300);
    let levels = out.strs("level");
    for (level, n) in [("Trace", 168), ("Debug", 77), ("Info", 54), ("Warning", 1)] {
        assert_eq!(
            levels
                .iter()
                .filter(|l| l.as_deref() == Some(level))
                .count(),
            n,
            "{level}"
        );
    }
    let level_nums = out.ints("level_num");
    assert_eq!(level_nums.iter().filter(|n| **n == Some(1)).count(), 168);
    assert_eq!(level_nums.iter().filter(|n| **n == Some(6)).count(), 1);

    let times = out.times();
    assert_eq!(times[0], micros("2005-02-01T15:33:09.592"));
    assert_eq!(times[299], micros("2005-02-01T15:33:15.673"));
    assert_eq!(
        *times.iter().min().unwrap(),
        micros("2005-02-01T15:29:45.383")
    );
    assert_eq!(
        *times.iter().max().unwrap(),
        micros("2005-02-01T15:33:15.673")
    );

    // 44 records lack Host and Thread, 54 lack Process; 168 Traces are self-closing.
    let null = |c: &str| out.strs(c).iter().filter(|v| v.is_none()).count();
    assert_eq!(null("host"), 44);
    assert_eq!(null("thread"), 44);
    assert_eq!(null("process"), 54);
    assert_eq!(null("message"), 168);
    assert_eq!(null("data"), 300);
    assert_eq!(out.strs("source_file"), vec![some("test.xml"); 300]);

    // <Info TimeStamp="2005-02-01T15:33:12.887" Routine="maci::LibraryManager::load"><![CDATA[Request to load 'acsclock'.]]></Info>
    let row = out
        .strs("message")
        .iter()
        .position(|m| m.as_deref() == Some("Request to load 'acsclock'."))
        .unwrap();
    assert_eq!(times[row], micros("2005-02-01T15:33:12.887"));
    assert_eq!(out.str("routine", row), some("maci::LibraryManager::load"));
    assert_eq!(
        (
            out.str("host", row),
            out.str("process", row),
            out.str("thread", row)
        ),
        (None, None, None)
    );

    // The only Warning.
    let w = levels
        .iter()
        .position(|l| l.as_deref() == Some("Warning"))
        .unwrap();
    assert_eq!(times[w], micros("2005-02-01T15:29:45.383"));
    assert_eq!(
        out.str("file", w),
        some("com.cosylab.acs.maci.manager.ManagerImpl")
    );
    assert_eq!(out.str("routine", w), some("initializeFederation"));
    assert_eq!(out.str("host", w), some("te1.hq.eso.org"));
    assert_eq!(out.str("thread", w), some("10"));
    assert_eq!(out.str("stack_id", w), some("unknown"));
    assert_eq!(out.ints("stack_level")[w], Some(0));
    assert_eq!(out.str("log_id", w), some("1851"));
    assert_eq!(out.str("process", w), None);
    assert_eq!(out.str("context", w), None);
    assert_eq!(
        out.str("message", w),
        some("No domain list given, manager federation disabled.")
    );

    // <Trace TimeStamp="2005-02-01T15:33:13.587" File="../include/baciPcommonImpl_T.i" Line="10"
    //  Routine="baci::PcommonImpl&lt;&gt;::PcommonImpl" Host="te1" Process="maciContainer" Thread="ORBTask" Context="" />
    let t = times
        .iter()
        .position(|&t| t == micros("2005-02-01T15:33:13.587"))
        .unwrap();
    assert_eq!(out.str("level", t), some("Trace"));
    assert_eq!(out.str("file", t), some("../include/baciPcommonImpl_T.i"));
    assert_eq!(out.ints("line")[t], Some(10));
    assert_eq!(
        out.str("routine", t),
        some("baci::PcommonImpl<>::PcommonImpl")
    );
    assert_eq!(out.str("process", t), some("maciContainer"));
    assert_eq!(out.str("context", t), some(""));
    assert_eq!(out.str("message", t), None);
}

#[test]
fn fixture_in_tiny_reads_and_gzip() {
    let bytes = std::fs::read(fixture()).unwrap();
    let whole = read(&bytes);
    let tiny = read_with(
        Trickle {
            data: &bytes,
            step: 7,
        },
        AcsScanOptions::default(),
    );
    assert_eq!(tiny.batch, whole.batch);
    let mut gz = Vec::new();
    let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &bytes).unwrap();
    enc.finish().unwrap();
    let decoder = std::io::BufReader::new(flate2::read::GzDecoder::new(&gz[..]));
    assert_eq!(
        read_with(decoder, AcsScanOptions::default()).batch,
        whole.batch
    );
}

/// A reader that returns at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A reader that counts the bytes it handed out.
struct Counting<'a> {
    inner: &'a [u8],
    read: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Read for Counting<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.read.set(self.read.get() + n);
        Ok(n)
    }
}

// --------------------------------------------------------------- structure

const TS: &str = "2026-01-01T10:00:00.000";

fn rec(level: &str, ts: &str, attrs: &str, body: Option<&str>) -> String {
    match body {
        None => format!("<{level} TimeStamp=\"{ts}\"{attrs} />"),
        Some(body) => format!("<{level} TimeStamp=\"{ts}\"{attrs}>{body}</{level}>"),
    }
}

#[test]
fn bare_records_and_attribute_order() {
    let input = format!(
        "{}{}\n  {}",
        "<Info Host=\"h1\" TimeStamp=\"2026-01-01T10:00:00.000\" Line = '12' Antenna=\"DA41\">one</Info>",
        "<Error\n  Antenna='DV01'\tProcess=\"p\"  TimeStamp = \"2026-01-01T10:00:01.5Z\" StackLevel=\"3\" Priority=\"8\"\n  Uri=\"u\" Audience=\"Operator\" Array=\"Array001\" StackId=\"s\" SourceObject=\"CONTROL/DV01\" Unknown=\"x\"\n/>",
        "<Emergency TimeStamp=\"2026-01-01T10:00:02\"><![CDATA[three]]></Emergency>",
    );
    let out = read(input.as_bytes());
    assert_eq!(out.skipped, vec![]);
    assert_eq!(
        out.strs("level"),
        vec![some("Info"), some("Error"), some("Emergency")]
    );
    assert_eq!(out.ints("level_num"), vec![Some(4), Some(8), Some(11)]);
    assert_eq!(
        out.times(),
        vec![
            micros("2026-01-01T10:00:00"),
            micros("2026-01-01T10:00:01.5"),
            micros("2026-01-01T10:00:02")
        ]
    );
    assert_eq!(out.strs("host"), vec![some("h1"), None, None]);
    assert_eq!(out.strs("antenna"), vec![some("DA41"), some("DV01"), None]);
    assert_eq!(out.ints("line"), vec![Some(12), None, None]);
    assert_eq!(out.ints("stack_level"), vec![None, Some(3), None]);
    assert_eq!(out.ints("priority"), vec![None, Some(8), None]);
    assert_eq!(out.str("uri", 1), some("u"));
    assert_eq!(out.str("audience", 1), some("Operator"));
    assert_eq!(out.str("array", 1), some("Array001"));
    assert_eq!(out.str("stack_id", 1), some("s"));
    assert_eq!(out.str("source_object", 1), some("CONTROL/DV01"));
    assert_eq!(out.strs("message"), vec![some("one"), None, some("three")]);
}

#[test]
fn all_levels_and_not_levels() {
    let mut input = String::from("<Log>");
    for (level, _) in ACS_LEVELS {
        input.push_str(&rec(level, TS, "", None));
    }
    input.push_str(&rec("Alarm", TS, "", Some("a")));
    input.push_str(&rec("Archive", TS, "", None));
    input.push_str("</Log>");
    let out = read(input.as_bytes());
    let nums: Vec<Option<i32>> = ACS_LEVELS.iter().map(|l| Some(l.1)).collect();
    assert_eq!(out.ints("level_num"), nums);
    assert_eq!(
        out.reasons(),
        vec![
            "unknown log level element <Alarm>",
            "unknown log level element <Archive>"
        ]
    );
    assert_eq!(out.skipped[1].element, some("Archive"));
}

#[test]
fn messages_text_cdata_entities() {
    let input = [
        rec("Info", TS, "", Some("line one\n  line two\r\nline three\r")),
        rec("Info", TS, "", Some("<![CDATA[a <b> & c\nd]]>")),
        rec(
            "Info",
            TS,
            "",
            Some("before <![CDATA[<in>]]> after<![CDATA[]]>!"),
        ),
        rec(
            "Info",
            TS,
            "",
            Some("a &amp; b &lt;c&gt; &quot;&apos; &#233; &#x41;&#X42;"),
        ),
        rec(
            "Info",
            TS,
            " Routine=\"f&lt;T&gt;\" Context=\"a&#10;b\nc\"",
            Some("<!-- note -->x<?pi y?>z"),
        ),
        rec("Info", TS, "", Some("")),
        rec("Info", TS, "", None),
        rec("Info", TS, "", Some("   ")),
    ]
    .concat();
    let out = read(input.as_bytes());
    // &#X42; is not a valid reference (the x is lower case): that record is skipped.
    assert_eq!(out.reasons(), vec!["malformed entity reference &#X42;"]);
    assert_eq!(
        out.strs("message"),
        vec![
            some("line one\n  line two\nline three\n"),
            some("a <b> & c\nd"),
            some("before <in> after!"),
            some("xz"),
            None,
            None,
            some("   "),
        ]
    );
    assert_eq!(out.str("routine", 3), some("f<T>"));
    // Attribute value normalisation: a literal line feed is a space, &#10; stays.
    assert_eq!(out.str("context", 3), some("a\nb c"));

    let ok = rec("Info", TS, "", Some("&#233;&#x41;&#65;"));
    assert_eq!(read(ok.as_bytes()).strs("message"), vec![some("éAA")]);
}

#[test]
fn data_children_become_json() {
    let input = [
        rec(
            "Error",
            TS,
            "",
            Some("Lock lost<Data Name=\"PhotonicReference\">PhotonicReference3</Data><Data Name=\"AmbientTemperature\">-2.50</Data>"),
        ),
        rec(
            "Info",
            TS,
            "",
            Some("\n  <Data Name=\"k\">first</Data>\n  <Data Name='k'>second</Data>\n  <Data>no name</Data><Data Name=\"q&quot;\">a\"b&amp;<![CDATA[\\c]]></Data><Data Name=\"e\"/>\n"),
        ),
        rec("Info", TS, "", Some("text <Data Name=\"n\">1</Data> more")),
    ]
    .concat();
    let out = read(input.as_bytes());
    assert_eq!(out.skipped, vec![]);
    let data = out.strs("data");
    assert_eq!(
        data[0],
        some(r#"{"PhotonicReference":"PhotonicReference3","AmbientTemperature":"-2.50"}"#)
    );
    assert_eq!(data[1], some(r#"{"k":"second","q\"":"a\"b&\\c","e":""}"#));
    let parsed: serde_json::Value = serde_json::from_str(data[1].as_deref().unwrap()).unwrap();
    assert_eq!(parsed["q\""], "a\"b&\\c");
    assert_eq!(data[2], some(r#"{"n":"1"}"#));
    assert_eq!(
        out.strs("message"),
        vec![some("Lock lost"), None, some("text  more")]
    );
}

#[test]
fn bad_integers_keep_the_record() {
    let input = rec(
        "Info",
        TS,
        " Line=\"abc\" Priority=\" 7 \" StackLevel=\"99999999999\"",
        None,
    );
    let out = read(input.as_bytes());
    assert_eq!(out.skipped, vec![]);
    assert_eq!(out.ints("line"), vec![None]);
    assert_eq!(out.ints("priority"), vec![Some(7)]);
    assert_eq!(out.ints("stack_level"), vec![None]);
}

// ------------------------------------------------------------ broken input

/// The four broken records of `engine/src/demo/logs.rs`, verbatim.
const DEMO_BROKEN: [(&str, &str, &str); 4] = [
    (
        "<Info TimeStamp=\"2026-13-45T99:00:00.000\" Routine=\"x\" Host=\"gas01\"><![CDATA[bad timestamp]]></Info>",
        "invalid TimeStamp \"2026-13-45T99:00:00.000\"",
        "Info",
    ),
    (
        "<Warning TimeStamp=\"2026-01-01T10:00:00.000\" Routine=\"x\" Host=\"gas01\">temperature < limit & rising</Warning>",
        "unescaped '<' in the text of <Warning>",
        "Warning",
    ),
    (
        "<Info Routine=\"x\" Host=\"gas02\"><![CDATA[record without a TimeStamp at 2026-01-01T10:00:00.000]]></Info>",
        "missing TimeStamp",
        "Info",
    ),
    (
        "<Infoo TimeStamp=\"2026-01-01T10:00:00.000\" Routine=\"x\"><![CDATA[unknown level element]]></Infoo>",
        "unknown log level element <Infoo>",
        "Infoo",
    ),
];

fn good(i: usize) -> String {
    rec(
        "Info",
        TS,
        &format!(" Host=\"gas01\" LogId=\"{i}\" Antenna=\"DA4{i}\""),
        Some(&format!("<![CDATA[good {i}]]><Data Name=\"i\">{i}</Data>")),
    )
}

#[test]
fn demo_broken_records_are_skipped_and_neighbours_survive() {
    for (bad, reason, element) in DEMO_BROKEN {
        for separator in ["\n", ""] {
            let head = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Log>\n<Header Name=\"NameForXmlDocument\" Type=\"LOGFILE\" />\n{}{separator}{}{separator}",
                good(1),
                good(2)
            );
            let input = format!(
                "{head}{bad}{separator}{}{separator}{}\n</Log>\n",
                good(3),
                good(4)
            );
            let out = read(input.as_bytes());
            assert_eq!(out.reasons(), vec![reason], "{bad}");
            assert_eq!(out.skipped[0].byte_offset, head.len() as u64);
            assert_eq!(out.skipped[0].element, some(element));
            assert_eq!(
                out.strs("log_id"),
                vec![some("1"), some("2"), some("3"), some("4")],
                "{bad}"
            );
            assert_eq!(
                out.strs("message"),
                (1..=4)
                    .map(|i| some(&format!("good {i}")))
                    .collect::<Vec<_>>()
            );
        }
    }
    // All four in one file, the way the generator spreads them.
    let mut input = String::from("<Log>\n");
    for (i, (bad, _, _)) in DEMO_BROKEN.iter().enumerate() {
        input.push_str(&format!("{}\n{bad}\n", good(i)));
    }
    input.push_str(&format!("{}\n</Log>\n", good(9)));
    let out = read(input.as_bytes());
    assert_eq!(
        out.reasons(),
        DEMO_BROKEN.iter().map(|b| b.1).collect::<Vec<_>>()
    );
    assert_eq!(out.batch.num_rows(), 5);
    assert_eq!(out.records_read, 5);
}

#[test]
fn other_syntax_errors_recover() {
    let cases = [
        (
            rec("Info", TS, "", Some("a & b")),
            "'&' not followed by an entity reference",
        ),
        (
            rec("Info", TS, "", Some("a &foo; b")),
            "malformed entity reference &foo;",
        ),
        (
            rec("Info", TS, " Routine=\"a&b\"", None),
            "'&' not followed by an entity reference",
        ),
        (
            rec("Info", TS, " Routine=\"a<b\"", None),
            "'<' in value of attribute Routine",
        ),
        (
            rec("Info", TS, " Routine=x", None),
            "value of attribute Routine not quoted",
        ),
        (
            rec("Info", TS, " Routine", None),
            "attribute Routine without a value",
        ),
        (
            format!("<Info TimeStamp=\"{TS}\">text</Warning>"),
            "mismatched end tag </Warning> in <Info>",
        ),
        (
            rec("Info", TS, "", Some("a <b>bold</b>")),
            "unexpected element <b> in <Info>",
        ),
        (
            rec("Info", TS, "", Some("<Data Name=\"x\"><y/></Data>")),
            "unexpected element <y> in <Data>",
        ),
        // No end tag: the next record's start tag is an unexpected child.
        (
            format!("<Info TimeStamp=\"{TS}\">text"),
            "unexpected element <Info> in <Info>",
        ),
    ];
    for (bad, reason) in cases {
        let input = format!("{}\n{bad}\n{}", good(1), good(2));
        let out = read(input.as_bytes());
        assert_eq!(out.reasons(), vec![reason], "{bad}");
        assert_eq!(out.strs("log_id"), vec![some("1"), some("2")], "{bad}");
    }
}

#[test]
fn truncated_input() {
    let full = format!("<Log>\n{}\n{}\n</Log>\n", good(1), good(2));
    let second = full
        .find("<Info TimeStamp=\"2026-01-01T10:00:00.000\" Host=\"gas01\" LogId=\"2\"")
        .unwrap();
    for cut in second + 1..full.len() - "\n</Log>\n".len() {
        let out = read(&full.as_bytes()[..cut]);
        assert_eq!(out.reasons(), vec!["truncated"], "cut at {cut}");
        assert_eq!(out.skipped[0].byte_offset, second as u64);
        if cut > second + "<Info".len() {
            assert_eq!(out.skipped[0].element, some("Info"));
        }
        assert_eq!(out.strs("log_id"), vec![some("1")]);
    }
    // An unterminated CDATA section runs to the end of the input; the records
    // after it are recovered.
    let second = rec("Info", TS, " LogId=\"2\"", Some("plain"));
    let input = format!(
        "{}\n<Info TimeStamp=\"{TS}\"><![CDATA[oops</Info>\n{second}",
        good(1)
    );
    let out = read(input.as_bytes());
    assert_eq!(out.reasons(), vec!["truncated"]);
    assert_eq!(out.strs("log_id"), vec![some("1"), some("2")]);
    // A bare "<" or a half start tag at the end.
    for tail in ["<", "<Inf", "<Info", "<!--", "<?xml"] {
        let out = read(format!("{}{tail}", good(1)).as_bytes());
        assert_eq!(out.reasons(), vec!["truncated"], "{tail}");
        assert_eq!(out.batch.num_rows(), 1);
    }
}

#[test]
fn garbage_between_records() {
    let input = format!(
        "{}\nsome garbage <b>bold</b> more\n{}\n</Foo>&amp;\n{}\n< {}x",
        good(1),
        good(2),
        good(3),
        good(4)
    );
    let out = read(input.as_bytes());
    assert_eq!(
        out.reasons(),
        vec![
            "unexpected text between records",
            "unexpected markup between records",
            "unexpected markup between records",
            "unexpected text between records",
        ]
    );
    assert_eq!(
        out.skipped[0].byte_offset,
        input.find("some").unwrap() as u64
    );
    assert_eq!(out.skipped[3].byte_offset, input.len() as u64 - 1);
    assert_eq!(out.skipped[0].element, None);
    assert_eq!(
        out.strs("log_id"),
        vec![some("1"), some("2"), some("3"), some("4")]
    );
}

#[test]
fn prolog_and_top_level_markup() {
    let input = format!(
        "\u{FEFF}<?xml version=\"1.0\"?>\n<!DOCTYPE Log>\n<!-- c <Info> -->\n<Log xmlns=\"urn:x\">\n<Header Name=\"n\" Type=\"LOGFILE\"><Description>d <Info></Description></Header>\n<?pi x?>{}</Log>\n<Log>{}</Log>",
        good(1),
        good(2)
    );
    let out = read(input.as_bytes());
    assert_eq!(out.skipped, vec![]);
    assert_eq!(out.strs("log_id"), vec![some("1"), some("2")]);
}

#[test]
fn encodings() {
    // Declared ISO-8859-1: every byte is one character.
    let mut latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Log><Info TimeStamp=\"2026-01-01T10:00:00\" Host=\"M\xfcnchen\"><![CDATA[caf\xe9]]> &#233;\xff</Info></Log>".to_vec();
    let out = read(&latin1);
    assert_eq!(out.skipped, vec![]);
    assert_eq!(out.str("host", 0), some("München"));
    assert_eq!(out.str("message", 0), some("café éÿ"));
    // The same bytes as UTF-8 (no declaration): invalid sequences become U+FFFD.
    latin1.drain(..latin1.iter().position(|&b| b == b'>').unwrap() + 1);
    let out = read(&latin1);
    assert_eq!(out.str("host", 0), some("M\u{FFFD}nchen"));
    // UTF-8 proper.
    let out =
        read("<Info TimeStamp=\"2026-01-01T10:00:00\" Host=\"München\">café ✓</Info>".as_bytes());
    assert_eq!(out.str("host", 0), some("München"));
    assert_eq!(out.str("message", 0), some("café ✓"));
}

#[test]
fn io_error_is_fatal() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let record = good(1);
            self.0 -= 1;
            out[..record.len()].copy_from_slice(record.as_bytes());
            Ok(record.len())
        }
    }
    let mut reader = AcsBatchReader::new(Failing(3), "f", AcsScanOptions::default()).unwrap();
    let err = reader.next().unwrap().unwrap_err();
    assert!(matches!(err, AcsReadError::Io { .. }), "{err}");
    assert_eq!(err.to_string(), "reading ACS log f: disk on fire");
    assert!(reader.next().is_none());
}

// ------------------------------------------------- projection, filter, limit

fn many(n: usize) -> String {
    let hosts = ["gas01", "gas02", "gas03"];
    let levels = ["Trace", "Debug", "Info", "Warning", "Error"];
    let mut s = String::from("<Log>\n");
    for i in 0..n {
        let host = if i % 10 == 9 {
            String::new()
        } else {
            format!(" Host=\"{}\"", hosts[i % 3])
        };
        let ts = chrono::DateTime::from_timestamp_micros(micros(TS) + i as i64 * 1000)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3f")
            .to_string();
        let attrs = format!(
            "{host} Process=\"p{}\" Antenna=\"DA{}\" LogId=\"{i}\"",
            i % 2,
            41 + i % 4
        );
        s.push_str(&rec(levels[i % 5], &ts, &attrs, Some("<![CDATA[m]]>")));
        s.push('\n');
    }
    s.push_str("</Log>\n");
    s
}

#[test]
fn projection() {
    let input = many(100);
    let names = |p: Vec<usize>| {
        let options = AcsScanOptions {
            projection: Some(p),
            ..AcsScanOptions::default()
        };
        let out = read_with(Cursor::new(input.clone()), options);
        let fields: Vec<String> = out
            .batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        (fields, out)
    };
    let (fields, out) = names(vec![1]);
    assert_eq!(fields, vec!["level"]);
    assert_eq!(out.batch.num_columns(), 1);
    assert_eq!(out.batch.num_rows(), 100);
    let (fields, out) = names(vec![19, 0, 3]);
    assert_eq!(fields, vec!["message", "time", "host"]);
    assert_eq!(out.str("message", 0), some("m"));
    assert_eq!(out.str("host", 9), None);
    let schema = acs_log_schema();
    assert!(!schema.field(0).is_nullable() && !schema.field(21).is_nullable());
    assert!(schema.field(3).is_nullable());

    // Empty projection: batches without columns, with row counts.
    let options = AcsScanOptions {
        projection: Some(vec![]),
        batch_size: 30,
        ..AcsScanOptions::default()
    };
    let out = read_with(Cursor::new(input.clone()), options);
    assert_eq!(out.sizes, vec![30, 30, 30, 10]);
    assert_eq!(out.batch.num_columns(), 0);

    let bad = AcsScanOptions {
        projection: Some(vec![22]),
        ..AcsScanOptions::default()
    };
    assert!(matches!(
        AcsBatchReader::new(&b""[..], "x", bad),
        Err(AcsReadError::InvalidOptions(_))
    ));
    let zero = AcsScanOptions {
        batch_size: 0,
        ..AcsScanOptions::default()
    };
    assert!(AcsBatchReader::new(&b""[..], "x", zero).is_err());
}

#[test]
fn filters() {
    let input = many(100);
    let ids = |filter: AcsRecordFilter| -> Vec<usize> {
        let options = AcsScanOptions {
            filter,
            projection: Some(vec![11]),
            ..AcsScanOptions::default()
        };
        let out = read_with(Cursor::new(input.clone()), options);
        assert_eq!(out.records_read, 100);
        out.strs("log_id")
            .iter()
            .map(|s| s.as_ref().unwrap().parse().unwrap())
            .collect()
    };
    let t0 = micros(TS);
    let time = AcsRecordFilter {
        time_from_us: Some(t0 + 10_000),
        time_to_us: Some(t0 + 13_000),
        ..Default::default()
    };
    assert_eq!(ids(time), vec![10, 11, 12]);
    let levels = AcsRecordFilter {
        levels: Some(vec!["Error".into(), "Debug".into(), "Nope".into()]),
        ..Default::default()
    };
    assert_eq!(ids(levels).len(), 40);
    let hosts = AcsRecordFilter {
        hosts: Some(vec!["gas02".into()]),
        ..Default::default()
    };
    let got = ids(hosts);
    assert!(
        got.iter().all(|i| i % 3 == 1 && i % 10 != 9),
        "NULL hosts do not match: {got:?}"
    );
    assert_eq!(got.len(), 30);
    let antennas = AcsRecordFilter {
        antennas: Some(vec!["DA42".into(), "DA44".into()]),
        ..Default::default()
    };
    assert_eq!(
        ids(antennas),
        (0..100)
            .filter(|i| i % 4 == 1 || i % 4 == 3)
            .collect::<Vec<_>>()
    );
    let processes = AcsRecordFilter {
        processes: Some(vec!["p1".into()]),
        ..Default::default()
    };
    assert_eq!(ids(processes).len(), 50);
    let empty = AcsRecordFilter {
        hosts: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(ids(empty), Vec::<usize>::new());
    let combined = AcsRecordFilter {
        time_from_us: Some(t0),
        time_to_us: Some(t0 + 50_000),
        levels: Some(vec!["Trace".into()]),
        hosts: Some(vec!["gas01".into(), "gas03".into()]),
        processes: Some(vec!["p0".into()]),
        antennas: Some(vec!["DA41".into()]),
    };
    // Trace (i % 5 == 0), gas01 or gas03 (i % 3 != 1, i % 10 != 9), p0 (even), DA41 (i % 4 == 0).
    assert_eq!(ids(combined), vec![0, 20]);
}

#[test]
fn limit_stops_reading_early() {
    let input = many(50_000);
    assert!(input.len() > 5_000_000);
    let counter = std::rc::Rc::new(std::cell::Cell::new(0));
    let reader = Counting {
        inner: input.as_bytes(),
        read: counter.clone(),
    };
    let options = AcsScanOptions {
        limit: Some(25),
        batch_size: 10,
        ..AcsScanOptions::default()
    };
    let out = read_with(reader, options);
    assert_eq!(out.sizes, vec![10, 10, 5]);
    assert!(
        counter.get() <= 256 * 1024,
        "read {} bytes of {}",
        counter.get(),
        input.len()
    );

    // With a filter, it reads just until enough rows matched.
    let counter = std::rc::Rc::new(std::cell::Cell::new(0));
    let reader = Counting {
        inner: input.as_bytes(),
        read: counter.clone(),
    };
    let filter = AcsRecordFilter {
        levels: Some(vec!["Warning".into()]),
        ..Default::default()
    };
    let options = AcsScanOptions {
        limit: Some(3),
        filter,
        ..AcsScanOptions::default()
    };
    let out = read_with(reader, options);
    assert_eq!(out.strs("log_id"), vec![some("3"), some("8"), some("13")]);
    assert!(counter.get() <= 256 * 1024);

    let options = AcsScanOptions {
        limit: Some(0),
        ..AcsScanOptions::default()
    };
    let counter = std::rc::Rc::new(std::cell::Cell::new(0));
    let reader = Counting {
        inner: input.as_bytes(),
        read: counter.clone(),
    };
    assert_eq!(read_with(reader, options).sizes, Vec::<usize>::new());
    assert_eq!(counter.get(), 0);
}

#[test]
fn batch_size_is_respected() {
    let input = many(1000);
    let options = AcsScanOptions {
        batch_size: 64,
        ..AcsScanOptions::default()
    };
    let out = read_with(Cursor::new(input.clone()), options);
    let mut expected = vec![64; 15];
    expected.push(40);
    assert_eq!(out.sizes, expected);
    // Records straddling read boundaries, and broken ones, in tiny reads.
    let mut broken = input.clone();
    for (i, (bad, _, _)) in DEMO_BROKEN.iter().enumerate() {
        let near = broken.len() * (i + 1) / 5;
        let at = broken[near..].find('\n').unwrap() + near + 1;
        broken.insert_str(at, &format!("{bad}\n"));
    }
    let whole = read(broken.as_bytes());
    assert_eq!(whole.skipped.len(), 4, "{:?}", whole.skipped);
    for step in [1, 3, 64, 1000] {
        let out = read_with(
            Trickle {
                data: broken.as_bytes(),
                step,
            },
            AcsScanOptions::default(),
        );
        assert_eq!(out.batch, whole.batch, "step {step}");
        assert_eq!(out.skipped, whole.skipped, "step {step}");
    }
}

#[test]
fn oversized_record_is_skipped() {
    let big = rec("Info", TS, "", Some(&"x".repeat(300_000)));
    let input = format!("{}\n{big}\n{}", good(1), good(2));
    let mut reader = AcsBatchReader::new(input.as_bytes(), "t", AcsScanOptions::default()).unwrap();
    reader.max_record_bytes = 4096;
    let rows: usize = reader.by_ref().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 2);
    assert_eq!(reader.skipped().len(), 1);
    assert_eq!(reader.skipped()[0].reason, "larger than 4096 bytes");
}

#[test]
fn skipped_entries_are_capped_but_counted() {
    let input = "<Oops/>\n".repeat(MAX_SKIPPED_KEPT + 5);
    let mut reader = AcsBatchReader::new(input.as_bytes(), "t", AcsScanOptions::default()).unwrap();
    assert!(reader.next().is_none());
    assert_eq!(reader.skipped().len(), MAX_SKIPPED_KEPT);
    assert_eq!(reader.skipped_count(), MAX_SKIPPED_KEPT as u64 + 5);
}

#[test]
fn reader_is_send() {
    fn send<T: Send>(_: &T) {}
    let reader = AcsBatchReader::new(std::io::empty(), "t", AcsScanOptions::default()).unwrap();
    send(&reader);
}

// ------------------------------------------------------------- properties

mod properties {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Pieces of ACS logs, well-formed and not, for inputs that reach deep
    /// into the parser (uniformly random bytes rarely get past the first
    /// `<`).
    const FRAGMENTS: &[&str] = &[
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        "<?xml version=\"1.0\"?>",
        "<Log>",
        "</Log>",
        "<Header Name=\"n\" Type=\"LOGFILE\" />",
        "<Info",
        "<Trace",
        "<Error",
        "</Info>",
        "</Trace>",
        " TimeStamp=\"2026-01-01T10:00:00.123\"",
        " TimeStamp='2026-01-01T10:00:00+05:00'",
        " TimeStamp=\"2026-13-45T99:00:00\"",
        " Line=\"12\"",
        " Line=abc",
        " Host=\"h&amp;\"",
        "=",
        "\"",
        ">",
        "/>",
        "<![CDATA[",
        "]]>",
        "&amp;",
        "&lt;",
        "&#x41;",
        "&#1114112;",
        "&bogus;",
        "&",
        "<",
        "<Data Name=\"k\">",
        "<Data>",
        "</Data>",
        "<b>",
        "text",
        "\n",
        "\r\n",
        " ",
        "\u{e9}",
        "\u{ff}",
    ];

    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => proptest::sample::select(FRAGMENTS).prop_map(|f| f.as_bytes().to_vec()),
            1 => vec(any::<u8>(), 1..8),
        ]
    }

    /// One item of a generated log.
    #[derive(Debug, Clone)]
    enum Item {
        /// A well-formed record with this message, as CDATA or as text.
        Record { message: String, cdata: bool },
        /// Text between records.
        Text(String),
        /// One of the demo generator's broken records.
        Broken(usize),
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            3 => ("[ -~\u{a0}-\u{24f}\t\n]{1,40}", any::<bool>())
                .prop_map(|(message, cdata)| Item::Record { message, cdata }),
            1 => "[a-zA-Z0-9.,;:!?]{1,10}( [a-zA-Z0-9.,;:!?]{1,10}){0,3}".prop_map(Item::Text),
            1 => (0..DEMO_BROKEN.len()).prop_map(Item::Broken),
        ]
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the bytes and however they arrive, reading ends without
        /// a panic or an error, and rows are only made of records read.
        #[test]
        fn any_input_is_read_without_failing(
            pieces in vec(fragment(), 0..64),
            step in 1usize..64,
            batch_size in 1usize..16,
        ) {
            let input = pieces.concat();
            let options = AcsScanOptions { batch_size, ..AcsScanOptions::default() };
            let out = read_with(Trickle { data: &input, step }, options.clone());
            prop_assert!(out.batch.num_rows() as u64 <= out.records_read);
            prop_assert!(out.sizes.iter().all(|&n| n <= batch_size));
            // The same content in one read gives the same rows and skips.
            let whole = read_with(Cursor::new(input.clone()), options);
            prop_assert_eq!(&out.batch, &whole.batch);
            prop_assert_eq!(out.reasons(), whole.reasons());
        }

        /// Every well-formed record survives the garbage and broken records
        /// around it, with its message intact, and each piece of garbage is
        /// reported once.
        #[test]
        fn records_survive_the_garbage_around_them(
            items in vec(item(), 0..40),
            step in 1usize..512,
            batch_size in 1usize..8,
        ) {
            let mut input = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Log>\n");
            let mut messages = vec![];
            let mut garbage = 0;
            let mut after_garbage = false;
            for item in items {
                match item {
                    Item::Record { message, cdata } => {
                        let body = if cdata && !message.contains("]]>") {
                            format!("<![CDATA[{message}]]>")
                        } else {
                            escape(&message)
                        };
                        input.push_str(&rec("Info", TS, " Host=\"h\"", Some(&body)));
                        messages.push(Some(message));
                        after_garbage = false;
                    }
                    // Two pieces of garbage in a row may be reported as one.
                    _ if after_garbage => continue,
                    Item::Text(text) => {
                        input.push_str(&text);
                        garbage += 1;
                        after_garbage = true;
                    }
                    Item::Broken(i) => {
                        input.push_str(DEMO_BROKEN[i].0);
                        garbage += 1;
                        after_garbage = true;
                    }
                }
                input.push('\n');
            }
            input.push_str("</Log>\n");
            let options = AcsScanOptions { batch_size, ..AcsScanOptions::default() };
            let out = read_with(Trickle { data: input.as_bytes(), step }, options);
            prop_assert_eq!(out.strs("message"), messages);
            prop_assert_eq!(out.skipped.len(), garbage, "{:?}", out.reasons());
        }
    }
}
