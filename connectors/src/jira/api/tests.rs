//! Tests of the JIRA source: the recorded answers, JQL and its escaping,
//! the REST client against an in-process HTTP server, and export mode.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ListArray, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};

use super::client::RetryPolicy;
use super::*;
use server::{Reply, Request, TestServer};

const TOKEN: &str = "s3cr3t-T0KEN-value";

fn fixture(name: &str) -> (String, Vec<u8>) {
    // the recorded JIRA answers (a copy of `shared/fixtures/jira`)
    let path = crate::test_support::manifest_dir()
        .join("../tests/fixtures/jira")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (name.to_string(), bytes)
}

fn us(seconds: i64) -> i64 {
    seconds * 1_000_000
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    let mut out = vec![];
    for b in batches {
        let a = b
            .column_by_name(column)
            .unwrap_or_else(|| panic!("no column {column}"))
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap_or_else(|| panic!("{column} is not Utf8"));
        out.extend(a.iter().map(|v| v.map(str::to_string)));
    }
    out
}

fn all_strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    strings(batches, column)
        .into_iter()
        .map(|v| v.unwrap_or_else(|| panic!("null in {column}")))
        .collect()
}

fn times(batches: &[RecordBatch], column: &str) -> Vec<Option<i64>> {
    let mut out = vec![];
    for b in batches {
        let a = b
            .column_by_name(column)
            .unwrap_or_else(|| panic!("no column {column}"))
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap_or_else(|| panic!("{column} is not a timestamp"));
        out.extend(a.iter());
    }
    out
}

fn lists(batches: &[RecordBatch], column: &str) -> Vec<Option<Vec<String>>> {
    let mut out = vec![];
    for b in batches {
        let a = b
            .column_by_name(column)
            .unwrap()
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        for i in 0..a.len() {
            if a.is_null(i) {
                out.push(None);
            } else {
                let v = a.value(i);
                let s = v.as_any().downcast_ref::<StringArray>().unwrap();
                out.push(Some(s.iter().map(|x| x.unwrap().to_string()).collect()));
            }
        }
    }
    out
}

fn projection(names: &[&str]) -> Option<Vec<usize>> {
    let schema = issues_schema();
    Some(names.iter().map(|n| schema.index_of(n).unwrap()).collect())
}

async fn collect(stream: BoxStream<'static, Result<RecordBatch>>) -> Result<Vec<RecordBatch>> {
    stream.try_collect().await
}

// ---------------------------------------------------------------------------
// Conversion of the recorded answers

#[test]
fn schemas_have_the_documented_columns_and_types() {
    let s = issues_schema();
    let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "key",
            "project",
            "issue_type",
            "status",
            "status_category",
            "priority",
            "summary",
            "description",
            "assignee",
            "reporter",
            "labels",
            "components",
            "created",
            "updated",
            "resolved",
            "resolution",
            "antenna",
            "fields"
        ]
    );
    assert!(!s.field(0).is_nullable() && !s.field(1).is_nullable());
    assert!(s.field(2).is_nullable());
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    assert_eq!(s.field_with_name("created").unwrap().data_type(), &ts);
    assert_eq!(s.field_with_name("resolved").unwrap().data_type(), &ts);
    assert!(matches!(
        s.field_with_name("labels").unwrap().data_type(),
        DataType::List(f) if f.data_type() == &DataType::Utf8
    ));
    for (i, c) in IssueColumn::ALL.iter().enumerate() {
        assert_eq!(*c as usize, i);
        assert_eq!(c.name(), s.field(i).name());
    }
    let c = comments_schema();
    let names: Vec<&str> = c.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["issue_key", "id", "author", "created", "body"]);
    assert_eq!(c.field(3).data_type(), &ts);
}

#[test]
fn recorded_server_answer_converts() {
    let batches = export_batches(
        vec![fixture("server-search-sampleproject.json")],
        &JiraQuery::default(),
        &AntennaRule::default(),
    )
    .unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].schema(), issues_schema());
    assert_eq!(rows(&batches), 11);
    let keys = all_strings(&batches, "key");
    let expected: Vec<String> = [13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 1]
        .iter()
        .map(|n| format!("SAMPLEPROJECT-{n}"))
        .collect();
    assert_eq!(keys, expected);
    assert_eq!(all_strings(&batches, "id")[0], "10014");
    assert_eq!(all_strings(&batches, "id")[10], "10002");
    assert!(all_strings(&batches, "status").iter().all(|s| s == "Open"));
    // This JIRA predates status categories.
    assert!(
        strings(&batches, "status_category")
            .iter()
            .all(Option::is_none)
    );
    assert!(
        all_strings(&batches, "project")
            .iter()
            .all(|p| p == "SAMPLEPROJECT")
    );
    assert!(
        all_strings(&batches, "issue_type")
            .iter()
            .all(|t| t == "Task")
    );
    assert!(
        all_strings(&batches, "priority")
            .iter()
            .all(|p| p == "Major")
    );
    assert!(
        all_strings(&batches, "assignee")
            .iter()
            .all(|p| p == "admin")
    );
    assert!(
        all_strings(&batches, "reporter")
            .iter()
            .all(|p| p == "admin")
    );
    let summaries = all_strings(&batches, "summary");
    assert_eq!(summaries[0], "blarg from in example.rb");
    assert_eq!(summaries[8], "blah");
    assert_eq!(summaries[10], "MOOOOOOARRR NINJAAAA!");
    assert!(strings(&batches, "description").iter().all(Option::is_none));
    // `+1300`: 15:35:06 in Auckland summer time is 02:35:06 UTC.
    let created = times(&batches, "created");
    assert_eq!(created[0], Some(us(1_323_916_506)));
    // SAMPLEPROJECT-1: created 2011-12-14T10:26:06+1300, the day before in UTC.
    assert_eq!(created[10], Some(us(1_323_811_566)));
    assert_eq!(times(&batches, "updated")[10], Some(us(1_323_916_653)));
    assert!(times(&batches, "resolved").iter().all(Option::is_none));
    assert!(strings(&batches, "resolution").iter().all(Option::is_none));
    // Empty lists, not NULL.
    assert!(
        lists(&batches, "labels")
            .iter()
            .all(|l| l.as_deref() == Some(&[]))
    );
    assert!(
        lists(&batches, "components")
            .iter()
            .all(|l| l.as_deref() == Some(&[]))
    );
    assert!(strings(&batches, "antenna").iter().all(Option::is_none));
    let raw: Value =
        serde_json::from_str(strings(&batches, "fields")[0].as_deref().unwrap()).unwrap();
    assert_eq!(raw["summary"], "blarg from in example.rb");
    assert_eq!(raw["votes"]["votes"], 0);
}

#[test]
fn recorded_empty_page_gives_no_rows() {
    let batches = export_batches(
        vec![fixture("server-search-empty.json")],
        &JiraQuery::default(),
        &AntennaRule::default(),
    )
    .unwrap();
    assert_eq!(rows(&batches), 0);
}

#[test]
fn recorded_answer_filters_exactly() {
    let files = || {
        vec![
            fixture("server-search-sampleproject.json"),
            fixture("server-search-empty.json"),
        ]
    };
    let rule = AntennaRule::default();
    // created in [2011-12-15T02:00Z, 2011-12-15T02:35Z), 15:00 to 15:35 local:
    // -9 to -12, not -8 (14:19:49) nor -13 (15:35:06).
    let from = us(1_323_914_400);
    let to = us(1_323_916_500);
    let q = JiraQuery {
        created: TimeRange::between(from, to),
        projection: projection(&["key"]),
        ..Default::default()
    };
    let b = export_batches(files(), &q, &rule).unwrap();
    assert_eq!(
        all_strings(&b, "key"),
        [
            "SAMPLEPROJECT-12",
            "SAMPLEPROJECT-11",
            "SAMPLEPROJECT-10",
            "SAMPLEPROJECT-9"
        ]
    );
    assert_eq!(b[0].num_columns(), 1);
    // Case-sensitive equality, as SQL: `open` is not `Open`.
    let q = JiraQuery {
        statuses: Some(vec!["open".into()]),
        ..Default::default()
    };
    assert_eq!(rows(&export_batches(files(), &q, &rule).unwrap()), 0);
    let q = JiraQuery {
        keys: Some(vec!["SAMPLEPROJECT-4".into(), "SAMPLEPROJECT-1".into()]),
        projection: Some(vec![]),
        ..Default::default()
    };
    let b = export_batches(files(), &q, &rule).unwrap();
    assert_eq!(rows(&b), 2);
    assert_eq!(b[0].num_columns(), 0);
    // A resolved range excludes the unresolved (NULL) issues.
    let q = JiraQuery {
        resolved: TimeRange {
            from_us: Some(0),
            to_us: None,
        },
        ..Default::default()
    };
    assert_eq!(rows(&export_batches(files(), &q, &rule).unwrap()), 0);
    let q = JiraQuery {
        limit: Some(3),
        projection: projection(&["key"]),
        ..Default::default()
    };
    assert_eq!(
        all_strings(&export_batches(files(), &q, &rule).unwrap(), "key"),
        ["SAMPLEPROJECT-13", "SAMPLEPROJECT-12", "SAMPLEPROJECT-11"]
    );
}

#[test]
fn jira_timestamps_parse() {
    assert_eq!(
        parse_jira_timestamp("2011-12-15T15:35:06.000+1300"),
        Some(us(1_323_916_506))
    );
    assert_eq!(
        parse_jira_timestamp("2011-12-14T23:35:06.000-0300"),
        Some(us(1_323_916_506))
    );
    assert_eq!(
        parse_jira_timestamp("2011-12-15T02:35:06.123+0000"),
        Some(us(1_323_916_506) + 123_000)
    );
    assert_eq!(
        parse_jira_timestamp("2011-12-15T08:05:06.000+05:30"),
        Some(us(1_323_916_506))
    );
    assert_eq!(
        parse_jira_timestamp("2011-12-15T02:35:06Z"),
        Some(us(1_323_916_506))
    );
    assert_eq!(parse_jira_timestamp("2011-12-15"), None);
    assert_eq!(parse_jira_timestamp("yesterday"), None);
}

#[test]
fn a_bad_timestamp_is_an_error_naming_issue_and_file() {
    let page = json!({"issues": [{"id": "1", "key": "A-1", "fields": {"created": "15/12/2011"}}]});
    let err = export_batches(
        vec![("page.json".into(), page.to_string().into_bytes())],
        &JiraQuery::default(),
        &AntennaRule::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("page.json") && err.contains("A-1") && err.contains("created"),
        "{err}"
    );
    // Not projected and not filtered on: not read, so no error.
    let q = JiraQuery {
        projection: projection(&["key"]),
        ..Default::default()
    };
    let b = export_batches(
        vec![("page.json".into(), page.to_string().into_bytes())],
        &q,
        &AntennaRule::default(),
    )
    .unwrap();
    assert_eq!(rows(&b), 1);
}

#[test]
fn a_file_that_is_not_a_search_page_is_named() {
    for body in [
        &b"{\"issues\": [1, "[..],
        &b"[]"[..],
        &b"{\"total\": 0}"[..],
    ] {
        let err = export_batches(
            vec![("jira/search-007.json".into(), body.to_vec())],
            &JiraQuery::default(),
            &AntennaRule::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("jira/search-007.json: not a JIRA search page"),
            "{err}"
        );
    }
}

#[test]
fn projection_out_of_range_is_an_error() {
    let q = JiraQuery {
        projection: Some(vec![0, 19]),
        ..Default::default()
    };
    let err = export_batches(vec![], &q, &AntennaRule::default()).unwrap_err();
    assert!(err.to_string().contains("index 19 out of range"), "{err}");
}

// ---------------------------------------------------------------------------
// ADF

#[test]
fn adf_becomes_plain_text() {
    let doc = json!({
        "type": "doc", "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "DV07 IF drift"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Seen by "},
                {"type": "mention", "attrs": {"id": "x", "text": "@Ana Engineer"}},
                {"type": "text", "text": " on "},
                {"type": "date", "attrs": {"timestamp": "1767225600000"}},
                {"type": "hardBreak"},
                {"type": "text", "text": "see ", "marks": [{"type": "strong"}]},
                {"type": "inlineCard", "attrs": {"url": "https://jira.example/browse/A-1"}},
                {"type": "text", "text": " "},
                {"type": "emoji", "attrs": {"shortName": ":warning:", "text": "⚠️"}}
            ]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "IFProc0"}]},
                    {"type": "orderedList", "attrs": {"order": 3}, "content": [
                        {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "BB_1"}]}]},
                        {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "BB_2"}]}]}
                    ]}
                ]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "IFProc1"}]}]}
            ]},
            {"type": "codeBlock", "attrs": {"language": "sql"}, "content": [{"type": "text", "text": "select 1;\nselect 2;"}]},
            {"type": "blockquote", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "quoted"}]}]},
            {"type": "rule"},
            {"type": "table", "content": [
                {"type": "tableRow", "content": [
                    {"type": "tableHeader", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "antenna"}]}]},
                    {"type": "tableHeader", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "status"}]}]}
                ]},
                {"type": "tableRow", "content": [
                    {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "DV07"}]}]},
                    {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "status", "attrs": {"text": "BROKEN"}}]}]}
                ]}
            ]},
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "abc"}}]},
            {"type": "futureNode", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "kept"}]}]}
        ]
    });
    let expected = "DV07 IF drift\n\
        Seen by @Ana Engineer on 2026-01-01\n\
        see https://jira.example/browse/A-1 ⚠️\n\
        - IFProc0\n  \
          3. BB_1\n  \
          4. BB_2\n\
        - IFProc1\n\
        select 1;\n\
        select 2;\n\
        > quoted\n\
        ---\n\
        antenna | status\n\
        DV07 | BROKEN\n\
        kept";
    assert_eq!(adf_to_text(&doc), expected);
    assert_eq!(adf_to_text(&json!({"type": "doc", "content": []})), "");
}

// ---------------------------------------------------------------------------
// Antenna rule

#[test]
fn default_antenna_regex_finds_alma_antennas() {
    let rule = AntennaRule::default();
    let f = |summary: &str, labels: &[&str]| {
        rule.extract(&json!({"summary": summary, "labels": labels}))
    };
    assert_eq!(
        f("DV07 IFProc1 BB_3 total power drifting upwards", &[]).as_deref(),
        Some("DV07")
    );
    assert_eq!(f("DA44: IFProc0 detector", &[]).as_deref(), Some("DA44"));
    assert_eq!(
        f("LO2 offsets on DV11 and DA58", &[]).as_deref(),
        Some("DV11")
    );
    assert_eq!(f("CM05 alarms", &[]).as_deref(), Some("CM05"));
    assert_eq!(f("PM04 cryostat", &[]).as_deref(), Some("PM04"));
    // Not ALMA antennas, not whole words, or the wrong case.
    assert_eq!(f("DA40 DA66 DV26 PM05 CM13 CM00", &[]), None);
    assert_eq!(f("XDV07 DV07X DV071", &[]), None);
    assert_eq!(f("dv07 drive fault", &[]), None);
    // Labels when the summary names none.
    assert_eq!(
        f("Cryostat warm", &["Cryostat", "DA61"]).as_deref(),
        Some("DA61")
    );
    assert_eq!(rule.extract(&json!({})), None);
}

#[test]
fn antenna_rules_from_options() {
    let field = AntennaRule::from_options(Some("customfield_10100"), None).unwrap();
    assert_eq!(
        field
            .extract(&json!({"customfield_10100": {"value": "DV11", "id": "1"}}))
            .as_deref(),
        Some("DV11")
    );
    assert_eq!(
        field
            .extract(&json!({"customfield_10100": "DA49"}))
            .as_deref(),
        Some("DA49")
    );
    assert_eq!(
        field
            .extract(&json!({"customfield_10100": [{"value": "CM05"}]}))
            .as_deref(),
        Some("CM05")
    );
    assert_eq!(field.extract(&json!({"customfield_10100": null})), None);
    assert_eq!(field.extract(&json!({"customfield_10100": ""})), None);
    let re = AntennaRule::from_options(None, Some(r"(?i)antenna[ =](\w+)")).unwrap();
    assert_eq!(
        re.extract(&json!({"summary": "fault at Antenna=dv03"}))
            .as_deref(),
        Some("dv03")
    );
    let whole = AntennaRule::from_options(None, Some(r"A\d\d")).unwrap();
    assert_eq!(
        whole.extract(&json!({"summary": "at A17"})).as_deref(),
        Some("A17")
    );
    assert!(AntennaRule::from_options(Some("customfield_1"), Some("x")).is_err());
    assert!(AntennaRule::from_options(Some("custom,field"), None).is_err());
    assert!(AntennaRule::from_options(None, Some("(")).is_err());
}

// ---------------------------------------------------------------------------
// JQL

#[test]
fn empty_query_is_just_the_order() {
    assert_eq!(
        build_jql(&JiraQuery::default()),
        "ORDER BY created ASC, key ASC"
    );
}

#[test]
fn every_filter_kind_becomes_its_clause() {
    let q = JiraQuery {
        projects: Some(vec!["ALMA".into(), "PRTSPR".into(), "ALMA".into()]),
        statuses: Some(vec!["Open".into(), "In Progress".into()]),
        status_categories: Some(vec!["To Do".into()]),
        priorities: Some(vec!["Critical".into()]),
        issue_types: Some(vec!["Bug".into()]),
        assignees: Some(vec!["Ana Engineer".into()]),
        keys: Some(vec!["PRTSPR-1".into()]),
        created: TimeRange::between(us(1_767_225_600), us(1_767_312_000)),
        updated: TimeRange {
            from_us: Some(us(1_767_225_600) + 30_000_000),
            to_us: None,
        },
        resolved: TimeRange {
            from_us: None,
            to_us: Some(us(1_767_312_000) + 1),
        },
        labels_all: vec!["DV07".into(), "LO2".into(), "DV07".into()],
        projection: None,
        limit: Some(5),
    };
    assert_eq!(
        build_jql(&q),
        "project in (\"ALMA\", \"PRTSPR\") AND issuetype in (\"Bug\") \
         AND status in (\"Open\", \"In Progress\") AND statusCategory in (\"To Do\") \
         AND priority in (\"Critical\") AND key in (\"PRTSPR-1\") \
         AND labels = \"DV07\" AND labels = \"LO2\" \
         AND created >= \"2025-12-31 12:00\" AND created < \"2026-01-02 14:00\" \
         AND updated >= \"2025-12-31 12:00\" \
         AND resolved < \"2026-01-02 14:01\" \
         ORDER BY created ASC, key ASC"
    );
    // The assignee is a display name: filtered in memory, never in JQL.
    assert!(!build_jql(&q).contains("assignee"));
    assert_eq!(q.jql(), build_jql(&q));
}

#[test]
fn time_bounds_widen_to_whole_minutes_for_any_time_zone() {
    // 2026-01-01T00:00:30Z .. 2026-01-02T00:00:00.000001Z
    let r = TimeRange::between(us(1_767_225_630), us(1_767_312_000) + 1);
    assert_eq!(
        widened_bounds(&r),
        (
            Some("2025-12-31 12:00".to_string()),
            Some("2026-01-02 14:01".to_string())
        )
    );
    // Whatever zone (UTC-12 .. UTC+14) JIRA reads the literals in, the
    // instants they name bracket the SQL range.
    let parse = |s: &str| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
            .timestamp_micros()
    };
    for (from, to) in [
        (us(1_767_225_630), us(1_767_312_000) + 1),
        (us(1_767_225_600), us(1_767_225_600) + 1),
        (-us(86_400) - 7, us(59)),
        (us(1_323_916_506) + 999_999, us(1_323_916_507)),
    ] {
        let (lo, hi) = widened_bounds(&TimeRange::between(from, to));
        let (lo, hi) = (parse(&lo.unwrap()), parse(&hi.unwrap()));
        for offset_min in (-12 * 60..=14 * 60).step_by(15) {
            let offset = i64::from(offset_min) * 60_000_000;
            assert!(
                lo - offset <= from,
                "lower bound too late at offset {offset_min}"
            );
            assert!(
                hi - offset >= to,
                "upper bound too early at offset {offset_min}"
            );
        }
        // Not wider than needed plus a minute.
        assert!(from - lo <= JQL_SLACK_BEFORE_US + 60_000_000);
        assert!(hi - to <= JQL_SLACK_AFTER_US + 60_000_000);
    }
    // Out of JQL's range: that side stays open.
    assert_eq!(
        widened_bounds(&TimeRange::between(i64::MIN, i64::MAX)),
        (None, None)
    );
    let q = JiraQuery {
        created: TimeRange::between(i64::MIN, i64::MAX),
        ..Default::default()
    };
    assert_eq!(build_jql(&q), JQL_ORDER_BY);
}

#[test]
fn impossible_queries_match_nothing() {
    let nothing = [
        JiraQuery {
            projects: Some(vec![]),
            ..Default::default()
        },
        JiraQuery {
            statuses: Some(vec![String::new()]),
            ..Default::default()
        },
        JiraQuery {
            labels_all: vec![String::new()],
            ..Default::default()
        },
        JiraQuery {
            updated: TimeRange::between(5, 5),
            ..Default::default()
        },
    ];
    for q in nothing {
        assert!(q.matches_nothing(), "{q:?}");
    }
    let q = JiraQuery {
        projects: Some(vec!["A".into(), String::new()]),
        ..Default::default()
    };
    assert!(!q.matches_nothing());
    assert_eq!(
        build_jql(&q),
        "project in (\"A\") ORDER BY created ASC, key ASC"
    );
}

#[test]
fn filter_support_is_exact_for_query_columns_only() {
    for c in [
        "project", "status", "assignee", "key", "created", "resolved", "labels",
    ] {
        assert_eq!(filter_support(c), FilterSupport::Exact, "{c}");
    }
    for c in ["summary", "description", "antenna", "fields", "id"] {
        assert_eq!(filter_support(c), FilterSupport::Unsupported, "{c}");
    }
}

/// A JQL token, as JIRA's lexer reads it.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    Open,
    Close,
    Comma,
}

fn word(w: &str) -> Tok {
    Tok::Word(w.to_string())
}

/// JQL's lexical rules: words, operators, parentheses, commas and quoted
/// strings with `\" \\ \' \  \n \r \t \uXXXX` escapes; a raw control
/// character anywhere is rejected (this module never writes one).
fn tokenize(jql: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = jql.chars().collect();
    let mut tokens = vec![];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            return Err(format!("raw control character {:?} at {i}", c));
        }
        match c {
            ' ' => i += 1,
            '(' => {
                tokens.push(Tok::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Tok::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Tok::Comma);
                i += 1;
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    let c = *chars.get(i).ok_or("unterminated string")?;
                    if c.is_control() {
                        return Err(format!("raw control character {c:?} in a string"));
                    }
                    match c {
                        '"' => {
                            i += 1;
                            break;
                        }
                        '\\' => {
                            let e = *chars.get(i + 1).ok_or("dangling backslash")?;
                            i += 2;
                            match e {
                                '"' | '\\' | '\'' | ' ' => s.push(e),
                                'n' => s.push('\n'),
                                'r' => s.push('\r'),
                                't' => s.push('\t'),
                                'u' => {
                                    let hex: String =
                                        chars.get(i..i + 4).ok_or("short \\u")?.iter().collect();
                                    let code =
                                        u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                                    s.push(char::from_u32(code).ok_or("bad \\u")?);
                                    i += 4;
                                }
                                other => return Err(format!("unknown escape \\{other}")),
                            }
                        }
                        c => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Tok::Str(s));
            }
            '=' | '!' | '<' | '>' | '~' => {
                let mut op = c.to_string();
                i += 1;
                if chars.get(i) == Some(&'=') {
                    op.push('=');
                    i += 1;
                }
                tokens.push(Tok::Op(op));
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '-'))
                {
                    i += 1;
                }
                tokens.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected {other:?} at {i}")),
        }
    }
    Ok(tokens)
}

const NASTY: &[&str] = &[
    "\"",
    "\\",
    "\\\"",
    "abc\\",
    "A\" OR project = \"B",
    "A\") OR 1=1 --",
    "\" ) OR (key != \"",
    "x ORDER BY key DESC",
    "'single' quotes",
    "line1\nline2",
    "cr\rlf\r\n",
    "tab\there",
    "nul\u{0}byte",
    "bell\u{7}del\u{7f}next\u{85}",
    "sep\u{2028}par\u{2029}",
    "ünïcödé 天文台 🚀",
    "%22 %0A ${jndi:x}",
    "  spaces  ",
    "\\u0022",
    "project in (\"A\")",
    "a, b",
];

#[test]
fn nasty_values_cannot_change_the_jql() {
    for &nasty in NASTY {
        let q = JiraQuery {
            projects: Some(vec![nasty.to_string(), "B".to_string()]),
            keys: Some(vec![nasty.to_string()]),
            labels_all: vec![nasty.to_string()],
            ..Default::default()
        };
        let jql = build_jql(&q);
        let tokens = tokenize(&jql).unwrap_or_else(|e| panic!("{nasty:?}: {e} in {jql}"));
        let v = Tok::Str(nasty.to_string());
        let expected = vec![
            word("project"),
            word("in"),
            Tok::Open,
            v.clone(),
            Tok::Comma,
            Tok::Str("B".into()),
            Tok::Close,
            word("AND"),
            word("key"),
            word("in"),
            Tok::Open,
            v.clone(),
            Tok::Close,
            word("AND"),
            word("labels"),
            Tok::Op("=".into()),
            v,
            word("ORDER"),
            word("BY"),
            word("created"),
            word("ASC"),
            Tok::Comma,
            word("key"),
            word("ASC"),
        ];
        assert_eq!(tokens, expected, "{nasty:?} gave {jql}");
    }
}

#[test]
fn jql_strings_are_escaped_as_documented() {
    assert_eq!(jql_string("plain"), "\"plain\"");
    assert_eq!(jql_string(""), "\"\"");
    assert_eq!(jql_string("a\"b"), r#""a\"b""#);
    assert_eq!(jql_string("a\\b"), r#""a\\b""#);
    assert_eq!(jql_string("a\nb\rc\td"), r#""a\nb\rc\td""#);
    assert_eq!(
        jql_string("\u{0}\u{1f}\u{7f}\u{2028}"),
        r#""\u0000\u001f\u007f\u2028""#
    );
    assert_eq!(jql_string("it's ü 🚀"), "\"it's ü 🚀\"");
}

// ---------------------------------------------------------------------------
// Options

#[test]
fn options_deserialize_with_defaults_and_reject_unknown_keys() {
    let o: JiraOptions = serde_json::from_value(json!({"url": "https://jira.alma.cl"})).unwrap();
    assert_eq!(o, JiraOptions::new("https://jira.alma.cl"));
    assert_eq!(o.schema, "jira");
    assert_eq!(
        (
            o.max_concurrency,
            o.timeout_seconds,
            o.cache_ttl_seconds,
            o.page_size
        ),
        (4, 30, 0, 100)
    );
    assert_eq!(o.flavor(), Flavor::Server);
    let o: JiraOptions =
        serde_json::from_value(json!({"url": "https://alma.atlassian.net/", "email": "a@b"}))
            .unwrap();
    assert_eq!(o.flavor(), Flavor::Cloud);
    let o: JiraOptions =
        serde_json::from_value(json!({"url": "https://alma.atlassian.net", "flavor": "server"}))
            .unwrap();
    assert_eq!(o.flavor(), Flavor::Server);
    let e = serde_json::from_value::<JiraOptions>(json!({"url": "x", "tokn": "y"})).unwrap_err();
    assert!(e.to_string().contains("unknown field `tokn`"), "{e}");
    let e = serde_json::from_value::<JiraOptions>(json!({"url": "x", "flavor": "dc"})).unwrap_err();
    assert!(e.to_string().contains("unknown variant"), "{e}");
    let x: JiraExportOptions = serde_json::from_value(
        json!({"location": "/data/jira/", "antenna_field": "customfield_10100"}),
    )
    .unwrap();
    assert_eq!(x.schema, "jira");
    assert!(matches!(x.antenna_rule().unwrap(), AntennaRule::Field(f) if f == "customfield_10100"));
}

#[test]
fn debug_output_never_shows_the_token() {
    let mut o = JiraOptions::new("https://jira.alma.cl");
    o.token = Some(TOKEN.into());
    let shown = format!("{o:?}");
    assert!(
        !shown.contains(TOKEN) && shown.contains("<redacted>"),
        "{shown}"
    );
    let client = JiraClient::new(&o).unwrap();
    let shown = format!("{client:?}");
    assert!(
        !shown.contains(TOKEN) && shown.contains("<redacted>"),
        "{shown}"
    );
    o.email = Some("ana@alma.cl".into());
    let shown = format!("{:?}", JiraClient::new(&o).unwrap());
    assert!(
        !shown.contains(TOKEN) && shown.contains("ana@alma.cl"),
        "{shown}"
    );
}

#[test]
fn invalid_options_are_explained() {
    let err = |o: &JiraOptions| JiraClient::new(o).unwrap_err().to_string();
    let mut o = JiraOptions::new(format!("https://ana:{TOKEN}@jira.alma.cl"));
    let e = err(&o);
    assert!(
        e.contains("must not hold credentials") && !e.contains(TOKEN),
        "{e}"
    );
    o.url = "ftp://jira.alma.cl".into();
    assert!(err(&o).contains("not http(s)"));
    o.url = "https://jira.alma.cl".into();
    o.page_size = 101;
    assert!(err(&o).contains("page_size 101"));
    o.page_size = 100;
    o.token_env = Some("ALMASQL_TEST_SURELY_UNSET_VARIABLE".into());
    assert!(err(&o).contains("ALMASQL_TEST_SURELY_UNSET_VARIABLE"));
    let mut o = JiraOptions::new("https://alma.atlassian.net");
    o.token = Some(TOKEN.into());
    let e = err(&o);
    assert!(e.contains("needs `email`") && !e.contains(TOKEN), "{e}");
    o.antenna_field = Some("customfield_1".into());
    o.antenna_regex = Some("x".into());
    o.email = Some("a@b".into());
    assert!(err(&o).contains("not both"));
}

// ---------------------------------------------------------------------------
// The REST client against an in-process server

fn category(status: &str) -> &'static str {
    match status {
        "Open" => "To Do",
        "In Progress" => "In Progress",
        _ => "Done",
    }
}

/// A Server-style issue `ALMA-n`, created `n` hours after 2026-01-01.
fn issue(n: usize, status: &str, labels: &[&str]) -> Value {
    let created = chrono::DateTime::from_timestamp(1_767_225_600 + n as i64 * 3600, 0)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::west_opt(3 * 3600).unwrap())
        .format("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string();
    json!({
        "id": (10_000 + n).to_string(),
        "key": format!("ALMA-{n}"),
        "fields": {
            "summary": format!("DV{:02}: trouble number {n}", n % 25 + 1),
            "description": format!("Line one of {n}.\nLine two."),
            "issuetype": {"name": "Bug"},
            "project": {"key": "ALMA", "name": "ALMA Problems"},
            "status": {"name": status, "statusCategory": {"name": category(status)}},
            "priority": {"name": "Major"},
            "assignee": {"displayName": "Ana Engineer"},
            "reporter": {"displayName": "AoD"},
            "labels": labels,
            "components": [{"name": "IFProc"}, {"name": "LO2"}],
            "created": created,
            "updated": created,
            "resolutiondate": null,
            "resolution": null
        }
    })
}

fn issues(n: usize) -> Arc<Vec<Value>> {
    Arc::new(
        (1..=n)
            .map(|i| issue(i, if i % 3 == 0 { "Open" } else { "Closed" }, &["ifproc"]))
            .collect(),
    )
}

/// `GET /rest/api/2/search` over `issues`, paged by startAt/maxResults
/// (no JQL evaluation: the client's exact filter does that).
fn server_search(req: &Request, issues: &[Value]) -> Reply {
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/rest/api/2/search");
    let start: usize = req.param("startAt").unwrap().parse().unwrap();
    let max: usize = req.param("maxResults").unwrap().parse().unwrap();
    let page: Vec<Value> = issues.iter().skip(start).take(max).cloned().collect();
    Reply::json(json!({"startAt": start, "maxResults": max, "total": issues.len(), "issues": page}))
}

fn options(url: &str) -> JiraOptions {
    let mut o = JiraOptions::new(url);
    o.token = Some(TOKEN.into());
    o.timeout_seconds = 5;
    o
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    }
}

fn client(o: &JiraOptions) -> JiraClient {
    JiraClient::with_retry_policy(o, fast_retry()).unwrap()
}

#[tokio::test]
async fn server_flavor_pages_by_start_at_with_the_exact_jql_and_fields() {
    let all = issues(5);
    let data = all.clone();
    let server = TestServer::start(move |req, _| server_search(req, &data)).await;
    let mut o = options(&server.url);
    o.page_size = 2;
    let c = client(&o);
    let q = JiraQuery {
        projects: Some(vec!["ALMA".into()]),
        created: TimeRange {
            from_us: Some(us(1_767_225_600)),
            to_us: None,
        },
        projection: projection(&["key", "status", "created", "antenna"]),
        ..Default::default()
    };
    let batches = collect(c.search(q)).await.unwrap();
    assert_eq!(batches.len(), 3);
    assert_eq!(
        all_strings(&batches, "key"),
        ["ALMA-1", "ALMA-2", "ALMA-3", "ALMA-4", "ALMA-5"]
    );
    assert_eq!(all_strings(&batches, "status")[2], "Open");
    assert_eq!(
        times(&batches, "created")[0],
        Some(us(1_767_225_600 + 3600))
    );
    assert_eq!(strings(&batches, "antenna")[0].as_deref(), Some("DV02"));
    assert_eq!(
        batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
        ["key", "status", "created", "antenna"]
    );
    let reqs = server.requests();
    assert_eq!(c.requests_made(), 3);
    assert_eq!(reqs.len(), 3);
    let starts: Vec<&str> = reqs.iter().map(|r| r.param("startAt").unwrap()).collect();
    assert_eq!(starts, ["0", "2", "4"]);
    for r in &reqs {
        assert_eq!(
            r.param("jql"),
            Some(
                "project in (\"ALMA\") AND created >= \"2025-12-31 12:00\" ORDER BY created ASC, key ASC"
            )
        );
        // Projected columns and the filtered ones; the antenna rule's fields.
        assert_eq!(
            r.param("fields"),
            Some("project,status,created,summary,labels")
        );
        assert_eq!(r.param("maxResults"), Some("2"));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.header("accept"), Some("application/json"));
    }
}

#[tokio::test]
async fn the_exact_filter_drops_what_jql_let_through() {
    let data = issues(6);
    let server = TestServer::start(move |req, _| server_search(req, &data)).await;
    let c = client(&options(&server.url));
    let q = JiraQuery {
        statuses: Some(vec!["Open".into()]),
        assignees: Some(vec!["Ana Engineer".into()]),
        projection: projection(&["key"]),
        ..Default::default()
    };
    let batches = collect(c.search(q)).await.unwrap();
    assert_eq!(all_strings(&batches, "key"), ["ALMA-3", "ALMA-6"]);
    assert_eq!(
        server.requests()[0].param("fields"),
        Some("status,assignee")
    );
}

#[tokio::test]
async fn limit_and_projection_reduce_requests_and_fields() {
    let data = issues(10);
    let server = TestServer::start(move |req, _| server_search(req, &data)).await;
    let mut o = options(&server.url);
    o.page_size = 2;
    let c = client(&o);
    let all = collect(c.search(JiraQuery::default())).await.unwrap();
    assert_eq!(rows(&all), 10);
    assert_eq!(c.requests_made(), 5);
    assert_eq!(server.requests()[0].param("fields"), Some("*all"));

    let c = client(&o);
    let q = JiraQuery {
        limit: Some(3),
        projection: projection(&["key"]),
        ..Default::default()
    };
    let limited = collect(c.search(q)).await.unwrap();
    assert_eq!(all_strings(&limited, "key"), ["ALMA-1", "ALMA-2", "ALMA-3"]);
    assert_eq!(c.requests_made(), 2);
    let reqs = server.requests();
    let last_two: Vec<_> = reqs[reqs.len() - 2..]
        .iter()
        .map(|r| {
            (
                r.param("startAt").unwrap().to_string(),
                r.param("maxResults").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        last_two,
        [("0".into(), "2".into()), ("2".into(), "1".into())]
    );
    // Only a key is wanted: the smallest field list that still brings it.
    assert_eq!(reqs[reqs.len() - 1].param("fields"), Some("summary"));

    // count(*): no columns, the right number of rows.
    let c = client(&options(&server.url));
    let q = JiraQuery {
        projection: Some(vec![]),
        limit: Some(7),
        ..Default::default()
    };
    let counted = collect(c.search(q)).await.unwrap();
    assert_eq!(rows(&counted), 7);
    assert!(counted.iter().all(|b| b.num_columns() == 0));
    assert_eq!(c.requests_made(), 1);
    assert_eq!(
        server.requests().last().unwrap().param("maxResults"),
        Some("7")
    );
}

#[tokio::test]
async fn a_query_matching_nothing_sends_no_request() {
    let server = TestServer::start(|_, _| Reply::status(500, "should not be asked")).await;
    let c = client(&options(&server.url));
    let q = JiraQuery {
        projects: Some(vec![String::new()]),
        ..Default::default()
    };
    assert_eq!(rows(&collect(c.search(q)).await.unwrap()), 0);
    assert_eq!(c.requests_made(), 0);
    assert!(server.requests().is_empty());
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "point"}]}]}
        ]}
    ]})
}

fn cloud_issue(n: usize) -> Value {
    let mut i = issue(n, "In Progress", &["DA44"]);
    i["fields"]["description"] = adf(&format!("Cloud description {n}"));
    i
}

#[tokio::test]
async fn cloud_flavor_posts_and_follows_next_page_tokens() {
    let server = TestServer::start(|req, _| {
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/rest/api/3/search/jql");
        assert_eq!(req.header("content-type"), Some("application/json"));
        let body = req.json();
        match body.get("nextPageToken").and_then(Value::as_str) {
            None => Reply::json(json!({
                "issues": [cloud_issue(1), cloud_issue(2)],
                "nextPageToken": "page-2",
                "isLast": false
            })),
            Some("page-2") => Reply::json(json!({"issues": [cloud_issue(3)], "isLast": true})),
            Some(other) => panic!("unexpected token {other}"),
        }
    })
    .await;
    let mut o = options(&server.url);
    o.flavor = Some(Flavor::Cloud);
    o.email = Some("ana@alma.cl".into());
    o.page_size = 2;
    let c = client(&o);
    assert_eq!(c.flavor(), Flavor::Cloud);
    let q = JiraQuery {
        status_categories: Some(vec!["In Progress".into()]),
        projection: projection(&[
            "key",
            "description",
            "status_category",
            "labels",
            "components",
        ]),
        ..Default::default()
    };
    let batches = collect(c.search(q)).await.unwrap();
    assert_eq!(all_strings(&batches, "key"), ["ALMA-1", "ALMA-2", "ALMA-3"]);
    assert_eq!(
        strings(&batches, "description")[2].as_deref(),
        Some("Cloud description 3\n- point")
    );
    assert_eq!(all_strings(&batches, "status_category")[0], "In Progress");
    assert_eq!(lists(&batches, "labels")[0], Some(vec!["DA44".to_string()]));
    assert_eq!(
        lists(&batches, "components")[1],
        Some(vec!["IFProc".to_string(), "LO2".to_string()])
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let first = reqs[0].json();
    assert_eq!(
        first,
        json!({
            "jql": "statusCategory in (\"In Progress\") ORDER BY created ASC, key ASC",
            "fields": ["status", "description", "labels", "components"],
            "maxResults": 2
        })
    );
    assert_eq!(reqs[1].json()["nextPageToken"], "page-2");
    let basic = format!("Basic {}", base64(&format!("ana@alma.cl:{TOKEN}")));
    assert_eq!(reqs[0].header("authorization"), Some(basic.as_str()));
}

fn base64(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn a_repeated_page_token_stops_the_search() {
    let server = TestServer::start(|_, _| {
        Reply::json(json!({"issues": [cloud_issue(1)], "nextPageToken": "same", "isLast": false}))
    })
    .await;
    let mut o = options(&server.url);
    o.flavor = Some(Flavor::Cloud);
    o.email = Some("ana@alma.cl".into());
    let c = client(&o);
    let err = collect(c.search(JiraQuery::default())).await.unwrap_err();
    assert!(
        err.to_string().contains("the same nextPageToken twice"),
        "{err}"
    );
    assert_eq!(c.requests_made(), 2);
    // LIMIT 0 asks nothing.
    let q = JiraQuery {
        limit: Some(0),
        ..Default::default()
    };
    assert_eq!(rows(&collect(c.search(q)).await.unwrap()), 0);
    assert_eq!(c.requests_made(), 2);
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after() {
    let data = issues(2);
    let server = TestServer::start(move |req, i| {
        if i == 0 {
            Reply::status(429, "{\"errorMessages\": [\"rate limited\"]}").header("Retry-After", "1")
        } else {
            server_search(req, &data)
        }
    })
    .await;
    let c = client(&options(&server.url));
    let started = Instant::now();
    let batches = collect(c.search(JiraQuery::default())).await.unwrap();
    assert_eq!(rows(&batches), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(c.requests_made(), 2);
}

#[tokio::test]
async fn unavailable_is_retried_with_backoff() {
    let data = issues(2);
    let server = TestServer::start(move |req, i| {
        if i < 2 {
            Reply::status(503, "<html>maintenance</html>")
        } else {
            server_search(req, &data)
        }
    })
    .await;
    let c = client(&options(&server.url));
    let batches = collect(c.search(JiraQuery::default())).await.unwrap();
    assert_eq!(rows(&batches), 2);
    assert_eq!(c.requests_made(), 3);
}

#[tokio::test]
async fn retries_are_capped() {
    let server = TestServer::start(|_, _| Reply::status(503, "busy")).await;
    let c = client(&options(&server.url));
    let err = collect(c.search(JiraQuery::default())).await.unwrap_err();
    assert!(
        matches!(err, JiraError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("still busy after 5 attempts"),
        "{err}"
    );
    assert_eq!(c.requests_made(), 5);
    // A Retry-After beyond what the source waits fails at once.
    let server =
        TestServer::start(|_, _| Reply::status(429, "").header("Retry-After", "3600")).await;
    let c = client(&options(&server.url));
    let err = collect(c.search(JiraQuery::default())).await.unwrap_err();
    assert!(err.to_string().contains("retry after 3600 s"), "{err}");
    assert_eq!(c.requests_made(), 1);
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let data = issues(1);
    let server =
        TestServer::start(move |req, _| server_search(req, &data).delayed(Duration::from_secs(3)))
            .await;
    let mut o = options(&server.url);
    o.timeout_seconds = 1;
    let c = client(&o);
    let started = Instant::now();
    let err = collect(c.search(JiraQuery::default())).await.unwrap_err();
    assert!(
        matches!(err, JiraError::Timeout { seconds: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/rest/api/2/search"), "{err}");
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(c.requests_made(), 1);
}

#[tokio::test]
async fn unauthorized_is_clear_and_never_shows_the_token() {
    for status in [401, 403] {
        // A server that echoes the credential it was sent.
        let server = TestServer::start(move |req, _| {
            Reply::status(
                status,
                format!("bad credential {:?}", req.header("authorization")),
            )
        })
        .await;
        let c = client(&options(&server.url));
        let err = collect(c.search(JiraQuery::default())).await.unwrap_err();
        let text = err.to_string();
        assert_eq!(
            text,
            format!(
                "authentication failed for JIRA source jira at {}: HTTP {status}",
                server.url
            )
        );
        assert!(!format!("{err:?}").contains(TOKEN));
        assert_eq!(c.requests_made(), 1, "not retried");
    }
}

#[tokio::test]
async fn other_error_bodies_are_quoted_without_the_token() {
    let server = TestServer::start(|req, _| {
        Reply::status(
            500,
            format!("internal error for {:?}", req.header("authorization")),
        )
    })
    .await;
    let c = client(&options(&server.url));
    let err = collect(c.search(JiraQuery::default())).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("HTTP 500") && text.contains("internal error for"),
        "{text}"
    );
    assert!(
        !text.contains(TOKEN) && text.contains("<redacted>"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_request_reports_jira_messages() {
    let server = TestServer::start(|_, _| {
        Reply::status(
            400,
            json!({
                "errorMessages": ["The value 'NOPE' does not exist for the field 'project'."],
                "errors": {"jql": "Error in the JQL Query"}
            })
            .to_string(),
        )
    })
    .await;
    let c = client(&options(&server.url));
    let q = JiraQuery {
        projects: Some(vec!["NOPE".into()]),
        ..Default::default()
    };
    let err = collect(c.search(q)).await.unwrap_err();
    assert!(matches!(err, JiraError::BadRequest { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(
            "The value 'NOPE' does not exist for the field 'project'.; jql: Error in the JQL Query"
        ),
        "{text}"
    );
    assert_eq!(c.requests_made(), 1);
}

#[tokio::test]
async fn malformed_json_is_an_error_naming_the_url() {
    for body in ["{\"issues\": [", "<html>login</html>", "{\"issues\": 5}"] {
        let server = TestServer::start(move |_, _| Reply::status(200, body)).await;
        let c = client(&options(&server.url));
        let err = collect(c.search(JiraQuery::default())).await.unwrap_err();
        assert!(matches!(err, JiraError::Json { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("{}/rest/api/2/search?jql=", server.url)),
            "{text}"
        );
    }
    // Valid JSON, but an issue without a key.
    let server = TestServer::start(|_, _| {
        Reply::json(json!({"startAt": 0, "total": 1, "issues": [{"id": "7", "fields": {}}]}))
    })
    .await;
    let c = client(&options(&server.url));
    let err = collect(c.search(JiraQuery::default())).await.unwrap_err();
    assert!(err.to_string().contains("issue 7 has no key"), "{err}");
}

#[tokio::test]
async fn the_cache_answers_repeated_requests_within_its_ttl() {
    let data = issues(3);
    let server = TestServer::start(move |req, _| server_search(req, &data)).await;
    let mut o = options(&server.url);
    o.cache_ttl_seconds = 60;
    let c = client(&o);
    let q = JiraQuery {
        projection: projection(&["key"]),
        ..Default::default()
    };
    let first = collect(c.search(q.clone())).await.unwrap();
    let second = collect(c.search(q.clone())).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(rows(&second), 3);
    assert_eq!(c.requests_made(), 1);
    assert_eq!(server.requests().len(), 1);
    // Another request is not a hit.
    let other = JiraQuery {
        limit: Some(1),
        ..q.clone()
    };
    collect(c.search(other)).await.unwrap();
    assert_eq!(c.requests_made(), 2);
    // Without a TTL every search asks.
    o.cache_ttl_seconds = 0;
    let c = client(&o);
    collect(c.search(q.clone())).await.unwrap();
    collect(c.search(q)).await.unwrap();
    assert_eq!(c.requests_made(), 2);
}

fn comment(id: usize, created: &str, body: Value) -> Value {
    json!({"id": id.to_string(), "author": {"displayName": format!("Author {id}")}, "created": created, "body": body})
}

#[tokio::test]
async fn server_comments_are_paged_per_issue() {
    let data = issues(2);
    let server = TestServer::start(move |req, _| match req.path.as_str() {
        "/rest/api/2/search" => server_search(req, &data),
        "/rest/api/2/issue/ALMA-1/comment" => {
            let start: usize = req.param("startAt").unwrap().parse().unwrap();
            let all = [
                comment(1, "2026-01-05T10:00:00.000-0300", json!("first")),
                comment(2, "2026-01-06T10:00:00.000-0300", json!("second")),
                comment(3, "2026-01-07T10:00:00.000-0300", json!("third")),
            ];
            let page: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
            Reply::json(json!({"startAt": start, "maxResults": 2, "total": 3, "comments": page}))
        }
        // Deleted between the search and the comment request.
        "/rest/api/2/issue/ALMA-2/comment" => {
            Reply::status(404, "{\"errorMessages\":[\"Issue does not exist\"]}")
        }
        other => panic!("unexpected {other}"),
    })
    .await;
    let mut o = options(&server.url);
    o.page_size = 2;
    let c = client(&o);
    let batches = collect(c.comments(CommentsQuery::default())).await.unwrap();
    assert_eq!(batches[0].schema(), comments_schema());
    assert_eq!(all_strings(&batches, "issue_key"), ["ALMA-1"; 3]);
    assert_eq!(all_strings(&batches, "id"), ["1", "2", "3"]);
    assert_eq!(all_strings(&batches, "author")[1], "Author 2");
    assert_eq!(all_strings(&batches, "body"), ["first", "second", "third"]);
    // 2026-01-05T13:00:00Z
    assert_eq!(times(&batches, "created")[0], Some(us(1_767_618_000)));
    let reqs = server.requests();
    assert_eq!(reqs[0].param("fields"), Some("summary"));
    assert_eq!(c.requests_made(), 4, "search, two pages of ALMA-1, ALMA-2");

    // A lower bound on the comment time narrows the issue search by
    // `updated`, and filters the comments exactly.
    let c = client(&o);
    let q = CommentsQuery {
        created: TimeRange {
            from_us: Some(us(1_767_618_000) + 1),
            to_us: None,
        },
        projection: Some(vec![CommentColumn::Id as usize]),
        limit: Some(1),
        ..Default::default()
    };
    // Both issues were updated on 2026-01-01, so the exact pass on
    // `updated` finds no issue: no comment requests at all.
    let batches = collect(c.comments(q.clone())).await.unwrap();
    assert_eq!(rows(&batches), 0);
    let search = server.requests().last().unwrap().clone();
    assert_eq!(
        search.param("jql"),
        Some("updated >= \"2026-01-05 01:00\" ORDER BY created ASC, key ASC")
    );
    assert_eq!(search.param("fields"), Some("updated"));
    assert_eq!(c.requests_made(), 1);
}

#[tokio::test]
async fn cloud_comments_convert_adf_and_respect_the_limit_and_concurrency() {
    let server = TestServer::start(|req, _| {
        if req.path == "/rest/api/3/search/jql" {
            let list: Vec<Value> = (1..=6).map(cloud_issue).collect();
            return Reply::json(json!({"issues": list, "isLast": true}));
        }
        let key = req
            .path
            .trim_start_matches("/rest/api/3/issue/")
            .trim_end_matches("/comment");
        let n: usize = key.trim_start_matches("ALMA-").parse().unwrap();
        Reply::json(
            json!({"startAt": 0, "maxResults": 100, "total": 1, "comments": [
                comment(100 + n, "2026-01-05T10:00:00.000+0000", adf(&format!("about {key}")))
            ]}),
        )
        .delayed(Duration::from_millis(150))
    })
    .await;
    let mut o = options(&server.url);
    o.flavor = Some(Flavor::Cloud);
    o.email = Some("ana@alma.cl".into());
    o.max_concurrency = 2;
    let c = client(&o);
    let q = CommentsQuery {
        projection: Some(vec![
            CommentColumn::IssueKey as usize,
            CommentColumn::Body as usize,
        ]),
        ..Default::default()
    };
    let batches = collect(c.comments(q)).await.unwrap();
    assert_eq!(rows(&batches), 6);
    assert_eq!(all_strings(&batches, "issue_key")[5], "ALMA-6");
    assert_eq!(all_strings(&batches, "body")[0], "about ALMA-1\n- point");
    assert_eq!(
        server.max_in_flight(),
        2,
        "comment requests overlap, at most two at once"
    );
    assert_eq!(c.requests_made(), 7);

    let c = client(&o);
    let q = CommentsQuery {
        limit: Some(4),
        ..Default::default()
    };
    assert_eq!(rows(&collect(c.comments(q)).await.unwrap()), 4);
}

#[tokio::test]
async fn concurrent_scans_share_the_request_limit() {
    for limit in [1, 3] {
        let data = issues(1);
        let server = TestServer::start(move |req, _| {
            server_search(req, &data).delayed(Duration::from_millis(150))
        })
        .await;
        let mut o = options(&server.url);
        o.max_concurrency = limit;
        let c = client(&o);
        let scans = (0..3).map(|_| collect(c.search(JiraQuery::default())));
        for result in futures::future::join_all(scans).await {
            assert_eq!(rows(&result.unwrap()), 1);
        }
        assert_eq!(server.max_in_flight(), limit);
    }
}

// ---------------------------------------------------------------------------
// Export mode over demo-style pages

/// Pages like the demo generator's `jira/search-NNN.json`: 120 tickets,
/// 50 per page, `customfield_10100` holding the antenna option.
fn demo_pages() -> Vec<(String, Vec<u8>)> {
    let statuses = ["Open", "In Progress", "Resolved", "Closed"];
    let antennas = ["DV07", "DA44", "DV11", "DA58", "CM05", "DV18", "PM02"];
    let tickets: Vec<Value> = (0..120)
        .map(|i: usize| {
            let status = statuses[i % 4];
            let antenna = antennas[i % 7];
            let with_antenna = !i.is_multiple_of(5);
            let created_us = us(1_767_225_600) + i as i64 * 1_800_000_000;
            let time = |t: i64| {
                chrono::DateTime::from_timestamp_micros(t)
                    .unwrap()
                    .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
                    .to_string()
            };
            let done = matches!(status, "Resolved" | "Closed");
            json!({
                "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                "id": (100_000 + i).to_string(),
                "self": format!("https://jira.alma.example/rest/api/2/issue/{}", 100_000 + i),
                "key": format!("PRTSPR-{}", 40_000 + i),
                "fields": {
                    "summary": if with_antenna { format!("{antenna}: Cryostat temperature above 4.2 K") } else { "WVR readings missing (several antennas)".to_string() },
                    "description": "Observed by the AoD during the night shift.",
                    "issuetype": {"name": "Bug", "subtask": false},
                    "project": {"key": "PRTSPR", "name": "ALMA Problem Reports"},
                    "status": {"name": status, "statusCategory": {"name": category(status)}},
                    "priority": {"name": "Major"},
                    "assignee": if status == "Open" { Value::Null } else { json!({"name": "aod.engineer", "displayName": "aod engineer"}) },
                    "reporter": {"name": "astronomer.on.duty", "displayName": "astronomer on duty"},
                    "labels": if with_antenna { vec![antenna, "Cryostat"] } else { vec![] },
                    "components": [{"name": "Cryostat"}],
                    "created": time(created_us),
                    "updated": time(created_us + 3_600_000_000),
                    "resolutiondate": if done { Value::String(time(created_us + 3_600_000_000)) } else { Value::Null },
                    "resolution": if done { json!({"name": "Fixed"}) } else { Value::Null },
                    "customfield_10100": if with_antenna { json!({"value": antenna}) } else { Value::Null },
                    "comment": {"startAt": 0, "maxResults": 1, "total": 1, "comments": [
                        {"id": (900 + i).to_string(), "author": {"displayName": "aod"}, "created": time(created_us + 60_000_000), "body": format!("comment on {i}")}
                    ]}
                }
            })
        })
        .collect();
    // Written in reverse name order on purpose: files are sorted by name.
    tickets
        .chunks(50)
        .enumerate()
        .rev()
        .map(|(page, chunk)| {
            let body = json!({"expand": "schema,names", "startAt": page * 50, "maxResults": 50, "total": 120, "issues": chunk});
            (format!("jira/search-{page:03}.json"), serde_json::to_vec_pretty(&body).unwrap())
        })
        .collect()
}

#[test]
fn export_pages_give_the_same_batches() {
    let rule = AntennaRule::from_options(Some("customfield_10100"), None).unwrap();
    let all = export_batches(demo_pages(), &JiraQuery::default(), &rule).unwrap();
    assert_eq!(
        all.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
        [50, 50, 20]
    );
    let keys = all_strings(&all, "key");
    assert_eq!(keys[0], "PRTSPR-40000");
    assert_eq!(keys[119], "PRTSPR-40119");
    let antennas = strings(&all, "antenna");
    assert_eq!(antennas[0], None);
    assert_eq!(antennas[1].as_deref(), Some("DA44"));
    assert_eq!(strings(&all, "assignee")[0], None);
    assert_eq!(
        strings(&all, "assignee")[1].as_deref(),
        Some("aod engineer")
    );
    assert_eq!(strings(&all, "resolution")[2].as_deref(), Some("Fixed"));
    assert_eq!(
        times(&all, "resolved")[2],
        Some(us(1_767_225_600) + 2 * 1_800_000_000 + 3_600_000_000)
    );
    assert_eq!(
        strings(&all, "status_category")[1].as_deref(),
        Some("In Progress")
    );
    assert_eq!(
        strings(&all, "description")[0].as_deref(),
        Some("Observed by the AoD during the night shift.")
    );

    // The default regex finds the same antennas in the summaries.
    let by_regex =
        export_batches(demo_pages(), &JiraQuery::default(), &AntennaRule::default()).unwrap();
    assert_eq!(strings(&by_regex, "antenna"), antennas);

    // Filters, exactly: Open (i % 4 == 0) and created in the first day
    // (i < 48), with the DV07 label (i % 7 == 0, i % 5 != 0).
    let q = JiraQuery {
        statuses: Some(vec!["Open".into()]),
        created: TimeRange::between(us(1_767_225_600), us(1_767_312_000)),
        labels_all: vec!["DV07".into()],
        projection: projection(&["key", "created"]),
        ..Default::default()
    };
    let b = export_batches(demo_pages(), &q, &rule).unwrap();
    let expected: Vec<String> = (0..48)
        .filter(|i| i % 4 == 0 && i % 7 == 0 && i % 5 != 0)
        .map(|i| format!("PRTSPR-{}", 40_000 + i))
        .collect();
    assert_eq!(all_strings(&b, "key"), expected);
    assert_eq!(expected, ["PRTSPR-40028"]);

    // The limit counts matching rows across files; empty projection keeps
    // the row count.
    let q = JiraQuery {
        status_categories: Some(vec!["Done".into()]),
        projection: Some(vec![]),
        limit: Some(40),
        ..Default::default()
    };
    let b = export_batches(demo_pages(), &q, &rule).unwrap();
    assert_eq!(
        b.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
        [24, 16]
    );
    assert!(b.iter().all(|b| b.num_columns() == 0));

    // A page exported twice is read once.
    let mut pages = demo_pages();
    let copy = pages[0].clone();
    pages.push(("jira/search-999-again.json".into(), copy.1));
    assert_eq!(
        rows(&export_batches(pages, &JiraQuery::default(), &rule).unwrap()),
        120
    );
}

#[test]
fn export_stops_reading_once_the_limit_is_reached() {
    let mut pages = demo_pages();
    pages.push(("jira/search-zzz.json".into(), b"not json".to_vec()));
    let rule = AntennaRule::default();
    let q = JiraQuery {
        limit: Some(100),
        ..Default::default()
    };
    assert_eq!(
        rows(&export_batches(pages.clone(), &q, &rule).unwrap()),
        100
    );
    let err = export_batches(pages.clone(), &JiraQuery::default(), &rule).unwrap_err();
    assert!(
        err.to_string().starts_with("jira/search-zzz.json: "),
        "{err}"
    );
    let q = JiraQuery {
        limit: Some(0),
        ..Default::default()
    };
    assert!(export_batches(pages, &q, &rule).unwrap().is_empty());
}

#[test]
fn export_comments_come_from_the_comment_field() {
    let rule = AntennaRule::default();
    let q = CommentsQuery {
        issues: JiraQuery {
            keys: Some(vec!["PRTSPR-40001".into(), "PRTSPR-40100".into()]),
            ..Default::default()
        },
        ..Default::default()
    };
    let b = export_comment_batches(demo_pages(), &q, &rule).unwrap();
    assert_eq!(
        all_strings(&b, "issue_key"),
        ["PRTSPR-40001", "PRTSPR-40100"]
    );
    assert_eq!(all_strings(&b, "id"), ["901", "1000"]);
    assert_eq!(all_strings(&b, "body")[1], "comment on 100");
    assert_eq!(
        times(&b, "created")[0],
        Some(us(1_767_225_600) + 1_800_000_000 + 60_000_000)
    );
    let q = CommentsQuery {
        created: TimeRange {
            from_us: None,
            to_us: Some(us(1_767_225_600) + 1_800_000_000),
        },
        limit: Some(5),
        ..Default::default()
    };
    let b = export_comment_batches(demo_pages(), &q, &rule).unwrap();
    assert_eq!(all_strings(&b, "id"), ["900"]);
    // The recorded answer has no comments.
    let b = export_comment_batches(
        vec![fixture("server-search-sampleproject.json")],
        &CommentsQuery::default(),
        &rule,
    )
    .unwrap();
    assert_eq!(rows(&b), 0);
}

/// A minimal HTTP/1.1 server: one request per connection, recorded; the
/// handler sees the request and its index among all requests.
mod server {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A request as received.
    #[derive(Debug, Clone)]
    pub struct Request {
        pub method: String,
        pub path: String,
        pub query: Vec<(String, String)>,
        pub headers: Vec<(String, String)>,
        pub body: String,
    }

    impl Request {
        /// A decoded query parameter.
        pub fn param(&self, name: &str) -> Option<&str> {
            self.query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }

        /// A header, by case-insensitive name.
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        /// The body as JSON.
        pub fn json(&self) -> Value {
            serde_json::from_str(&self.body).expect("a JSON body")
        }
    }

    /// What to answer.
    #[derive(Debug, Clone)]
    pub struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        delay: Duration,
    }

    impl Reply {
        pub fn json(v: Value) -> Self {
            Self::status(200, v.to_string())
        }

        pub fn status(status: u16, body: impl Into<String>) -> Self {
            Self {
                status,
                headers: vec![],
                body: body.into(),
                delay: Duration::ZERO,
            }
        }

        pub fn header(mut self, name: &str, value: &str) -> Self {
            self.headers.push((name.into(), value.into()));
            self
        }

        pub fn delayed(mut self, delay: Duration) -> Self {
            self.delay = delay;
            self
        }
    }

    type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

    pub struct TestServer {
        pub url: String,
        requests: Arc<Mutex<Vec<Request>>>,
        max_in_flight: Arc<AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl TestServer {
        pub async fn start(
            handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
        ) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let handler: Arc<Handler> = Arc::new(handler);
            let requests = Arc::new(Mutex::new(vec![]));
            let in_flight = Arc::new(AtomicUsize::new(0));
            let max_in_flight = Arc::new(AtomicUsize::new(0));
            let (r, m) = (requests.clone(), max_in_flight.clone());
            let task = tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let (handler, requests) = (handler.clone(), r.clone());
                    let (in_flight, max_in_flight) = (in_flight.clone(), m.clone());
                    tokio::spawn(async move {
                        serve(socket, handler, requests, in_flight, max_in_flight).await;
                    });
                }
            });
            Self {
                url,
                requests,
                max_in_flight,
                task,
            }
        }

        pub fn requests(&self) -> Vec<Request> {
            self.requests.lock().unwrap().clone()
        }

        pub fn max_in_flight(&self) -> usize {
            self.max_in_flight.load(Ordering::SeqCst)
        }
    }

    async fn serve(
        mut socket: TcpStream,
        handler: Arc<Handler>,
        requests: Arc<Mutex<Vec<Request>>>,
        in_flight: Arc<AtomicUsize>,
        max_in_flight: Arc<AtomicUsize>,
    ) {
        let Some(request) = read_request(&mut socket).await else {
            return;
        };
        let index = {
            let mut r = requests.lock().unwrap();
            r.push(request.clone());
            r.len() - 1
        };
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        max_in_flight.fetch_max(now, Ordering::SeqCst);
        // A panicking handler (a failed assertion) answers 599.
        let reply =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&request, index)))
                .unwrap_or_else(|_| Reply::status(599, "handler panicked"));
        tokio::time::sleep(reply.delay).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let mut head = format!(
            "HTTP/1.1 {} Test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            reply.status,
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(reply.body.as_bytes()).await;
        let _ = socket.shutdown().await;
    }

    async fn read_request(socket: &mut TcpStream) -> Option<Request> {
        let mut buf = vec![];
        let mut chunk = [0u8; 8192];
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..end].to_vec()).ok()?;
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let method = first.next()?.to_string();
        let target = first.next()?.to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[end + 4..].to_vec();
        while body.len() < length {
            let n = socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        let url = url::Url::parse(&format!("http://test{target}")).ok()?;
        Some(Request {
            method,
            path: url.path().to_string(),
            query: url.query_pairs().into_owned().collect(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

mod properties {
    use std::collections::HashSet;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON numbers are finite", |v| v.is_finite())
                .prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ]
    }

    fn json() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::from),
                vec(
                    (
                        prop_oneof![
                            Just("type".to_string()),
                            Just("content".to_string()),
                            Just("text".to_string()),
                            "[a-z]{1,6}"
                        ],
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// A field value: the right shape (`good`) or anything.
    fn field(good: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Option<Value>> {
        proptest::option::of(prop_oneof![3 => good.boxed(), 1 => json().boxed()])
    }

    fn timestamp() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!("2024-03-01T12:00:00.000+0000")),
            Just(json!("2011-12-15T15:35:06.123+1300")),
            Just(json!("2024-03-01T12:00:00Z")),
            Just(Value::Null),
        ]
    }

    fn named() -> impl Strategy<Value = Value> {
        "[A-Za-z ]{1,8}".prop_map(|n| json!({"name": n, "key": n, "displayName": n}))
    }

    fn issue() -> impl Strategy<Value = Value> {
        let id = proptest::option::of(prop_oneof![
            (0u32..20).prop_map(|i| json!(i.to_string())),
            (0u32..20).prop_map(|i| json!(i)),
            leaf(),
        ]);
        let key = proptest::option::of(prop_oneof![
            3 => (0u32..20).prop_map(|i| json!(format!("PRTSPR-{i}"))),
            1 => leaf(),
        ]);
        let fields = (
            field("\\PC{0,20}".prop_map(Value::from)),
            field(prop_oneof![
                "\\PC{0,20}".prop_map(Value::from),
                json().prop_map(|c| json!({"type": "doc", "content": [c]})),
            ]),
            field(vec("[a-z]{1,6}".prop_map(Value::from), 0..3).prop_map(Value::from)),
            field(vec(named(), 0..3).prop_map(Value::from)),
            field(named()),
            field(timestamp()),
            field(timestamp()),
            field(timestamp()),
        )
            .prop_map(
                |(summary, description, labels, components, status, created, updated, resolved)| {
                    let mut fields = serde_json::Map::new();
                    for (name, value) in [
                        ("summary", summary),
                        ("description", description),
                        ("labels", labels),
                        ("components", components),
                        ("status", status),
                        ("created", created),
                        ("updated", updated),
                        ("resolutiondate", resolved),
                    ] {
                        if let Some(v) = value {
                            fields.insert(name.to_string(), v);
                        }
                    }
                    Value::Object(fields)
                },
            );
        (id, key, fields).prop_map(|(id, key, fields)| {
            let mut issue = serde_json::Map::new();
            if let Some(id) = id {
                issue.insert("id".into(), id);
            }
            if let Some(key) = key {
                issue.insert("key".into(), key);
            }
            issue.insert("fields".into(), fields);
            Value::Object(issue)
        })
    }

    /// Whether the connector can read `issue`: an id, a key and timestamps
    /// that are absent, null or JIRA timestamps.
    fn readable(issue: &Value) -> bool {
        let fields = &issue["fields"];
        matches!(issue.get("id"), Some(Value::String(_) | Value::Number(_)))
            && issue.get("key").is_some_and(Value::is_string)
            && ["created", "updated", "resolutiondate"]
                .iter()
                .all(|f| match fields.get(f) {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => parse_jira_timestamp(s).is_some(),
                    Some(_) => false,
                })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// An exported page of any issues gives every distinct issue as a
        /// row, or an error naming the file when one cannot be read.
        #[test]
        fn any_export_page_reads_or_names_the_file(issues in vec(issue(), 0..12)) {
            let mut seen = HashSet::new();
            let unique: Vec<&Value> = issues
                .iter()
                .filter(|i| {
                    let id = i.get("id").map(Value::to_string).unwrap_or_default();
                    id.is_empty() || seen.insert(id)
                })
                .collect();
            let page = serde_json::to_vec(&json!({"issues": issues})).unwrap();
            let result = export_batches(
                vec![("page.json".to_string(), page)],
                &JiraQuery::default(),
                &AntennaRule::default(),
            );
            if unique.iter().all(|i| readable(i)) {
                prop_assert_eq!(rows(&result.unwrap()), unique.len());
            } else {
                match result {
                    Err(JiraError::Export { file, .. }) => prop_assert_eq!(file, "page.json"),
                    other => prop_assert!(false, "expected an export error, got {:?}", other),
                }
            }
        }

        /// Bytes that are not a search page are an error naming the file.
        #[test]
        fn any_bytes_read_or_name_the_file(
            bytes in prop_oneof![vec(any::<u8>(), 0..64), json().prop_map(|v| serde_json::to_vec(&v).unwrap())],
        ) {
            match export_batches(
                vec![("x.json".to_string(), bytes)],
                &JiraQuery::default(),
                &AntennaRule::default(),
            ) {
                Ok(_) => {}
                Err(JiraError::Export { file, .. }) => prop_assert_eq!(file, "x.json"),
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }
    }
}
