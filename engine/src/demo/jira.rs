//! A JIRA export: the pages `GET /rest/api/2/search` returns, with tickets
//! that name the antennas where problems are planted.

use std::path::Path;

use serde_json::{Value, json};

use super::Spec;
use super::antennas::ANTENNAS;
use super::rng::DemoRng;
use super::write::atomic;
use crate::error::Result;

/// Issues per page of the export.
pub const PAGE_SIZE: usize = 50;
/// Tickets per day of data, besides the planted ones.
const TICKETS_PER_DAY: u64 = 10;
const BASE_URL: &str = "https://jira.alma.example/rest/api/2";

struct Ticket {
    summary: String,
    description: String,
    issue_type: &'static str,
    status: &'static str,
    priority: &'static str,
    labels: Vec<String>,
    component: &'static str,
    antenna: Option<&'static str>,
    created_us: i64,
}

/// The planted tickets: (summary, antenna, component, status).
const PLANTED: [(&str, &str, &str, &str); 7] = [
    (
        "DV07 IFProc1 BB_3 total power drifting upwards",
        "DV07",
        "IFProc",
        "Open",
    ),
    (
        "DA44: IFProc0 BB_1 detector total power decreasing",
        "DA44",
        "IFProc",
        "In Progress",
    ),
    (
        "LO2BBpr2 frequency offset errors on DV11",
        "DV11",
        "LO2",
        "Open",
    ),
    (
        "DA58 LO2BBpr0 reports frequency offsets every few hours",
        "DA58",
        "LO2",
        "Open",
    ),
    (
        "CM05 LO2BBpr1 frequency offset alarms",
        "CM05",
        "LO2",
        "Resolved",
    ),
    (
        "Frequent photonic reference lock loss at DV18 LORR",
        "DV18",
        "LORR",
        "Open",
    ),
    (
        "DA49 LORR loses photonic reference lock at night",
        "DA49",
        "LORR",
        "In Progress",
    ),
];

fn jira_time(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .expect("timestamp in range")
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

fn status_json(status: &str) -> Value {
    let (key, name, id) = match status {
        "Open" | "Reopened" => ("new", "To Do", 2),
        "In Progress" => ("indeterminate", "In Progress", 4),
        _ => ("done", "Done", 3),
    };
    json!({"name": status, "statusCategory": {"id": id, "key": key, "name": name}})
}

fn person(name: &str) -> Value {
    json!({"name": name, "displayName": name.replace('.', " "), "active": true})
}

/// Writes `jira/search-NNN.json`; returns the number of issues.
// `*rng.weighted(..)` picks the element type; clippy sees only the deref
#[allow(clippy::explicit_auto_deref)]
pub fn write(out: &Path, spec: &Spec) -> Result<u64> {
    let mut rng = DemoRng::new(spec.seed, "jira");
    let span = (spec.end_us() - spec.start_us()) as f64;
    let mut tickets = vec![];
    for (i, (summary, antenna, component, status)) in PLANTED.iter().enumerate() {
        tickets.push(Ticket {
            summary: summary.to_string(),
            description: format!("Seen in the monitor data and logs of {antenna}.\nPlease check the {component} and replace the module if needed."),
            issue_type: "Bug",
            status,
            priority: if i % 2 == 0 { "Critical" } else { "Major" },
            labels: vec![antenna.to_string(), component.to_string()],
            component,
            antenna: Some(antenna),
            created_us: spec.start_us() + (span * (0.3 + 0.1 * i as f64 / 7.0)) as i64 / 1000 * 1000,
        });
    }
    const TOPICS: [(&str, &str); 6] = [
        ("Cryostat temperature above 4.2 K", "Cryostat"),
        ("Drive fault during fast switching", "Mount"),
        ("WVR readings missing", "WVR"),
        ("ACD calibration load stuck", "ACD"),
        ("DTX link errors on channel 2", "DTX"),
        ("PSA power supply alarm", "PSA"),
    ];
    for _ in 0..u64::from(spec.days()) * TICKETS_PER_DAY {
        let (topic, component) = TOPICS[rng.below(TOPICS.len() as u64) as usize];
        let antenna = ANTENNAS[rng.below(ANTENNAS.len() as u64) as usize].name;
        let with_antenna = rng.chance(0.8);
        tickets.push(Ticket {
            summary: if with_antenna {
                format!("{antenna}: {topic}")
            } else {
                format!("{topic} (several antennas)")
            },
            description: format!("{topic}.\nObserved by the AoD during the night shift."),
            issue_type: *rng.weighted(&[("Bug", 0.6), ("Task", 0.3), ("Improvement", 0.1)]),
            status: *rng.weighted(&[
                ("Open", 0.35),
                ("In Progress", 0.2),
                ("Resolved", 0.3),
                ("Closed", 0.15),
            ]),
            priority: *rng.weighted(&[
                ("Blocker", 0.05),
                ("Critical", 0.15),
                ("Major", 0.5),
                ("Minor", 0.3),
            ]),
            labels: if with_antenna {
                vec![antenna.to_string()]
            } else {
                vec![]
            },
            component,
            antenna: with_antenna.then_some(antenna),
            created_us: spec.start_us() + (rng.uniform() * span) as i64 / 1000 * 1000,
        });
    }
    tickets.sort_by_key(|t| t.created_us);
    let total = tickets.len();
    let issues: Vec<Value> = tickets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let id = 100_000 + i;
            let key = format!("PRTSPR-{}", 40_000 + i);
            let done = matches!(t.status, "Resolved" | "Closed");
            let updated = t.created_us + (rng.uniform() * 2.0 * 86_400e6) as i64 / 1000 * 1000;
            json!({
                "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                "id": id.to_string(),
                "self": format!("{BASE_URL}/issue/{id}"),
                "key": key,
                "fields": {
                    "summary": t.summary,
                    "description": t.description,
                    "issuetype": {"name": t.issue_type, "subtask": false},
                    "project": {"key": "PRTSPR", "name": "ALMA Problem Reports"},
                    "status": status_json(t.status),
                    "priority": {"name": t.priority},
                    "assignee": if t.status == "Open" { Value::Null } else { person("aod.engineer") },
                    "reporter": person("astronomer.on.duty"),
                    "labels": t.labels,
                    "components": [{"name": t.component}],
                    "created": jira_time(t.created_us),
                    "updated": jira_time(updated),
                    "resolutiondate": if done { Value::String(jira_time(updated)) } else { Value::Null },
                    "resolution": if done { json!({"name": "Fixed"}) } else { Value::Null },
                    "customfield_10100": t.antenna.map_or(Value::Null, |a| json!({"value": a})),
                },
            })
        })
        .collect();
    for (page, chunk) in issues.chunks(PAGE_SIZE).enumerate() {
        let body = json!({
            "expand": "schema,names",
            "startAt": page * PAGE_SIZE,
            "maxResults": PAGE_SIZE,
            "total": total,
            "issues": chunk,
        });
        let text = serde_json::to_string_pretty(&body).expect("json serializes");
        atomic(
            &out.join(format!("jira/search-{page:03}.json")),
            text.as_bytes(),
        )?;
    }
    Ok(total as u64)
}
