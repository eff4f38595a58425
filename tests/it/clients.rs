//! Client compatibility (issue 7): the scripts in `tests/clients`, each a
//! real client (psql, psycopg 3, SQLAlchemy 2, pandas, pgjdbc, psqlODBC via
//! pyodbc, a raw-protocol fetch-size client, and replays of the queries
//! Grafana and Metabase send), run with `--keep-going` against a default
//! `almasql serve`.
//!
//! Every check must pass except those listed in `tests/clients/known_gaps.txt`,
//! each with the reason (mostly gaps of datafusion-postgres and
//! datafusion-pg-catalog, reported upstream). The list is strict: a listed
//! check that starts passing fails the test until it is removed, so the list
//! always says what does not work.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::common::TestServer;

fn clients_dir() -> PathBuf {
    crate::common::repo_dir().join("tests/clients")
}

/// The known gaps of `script`: check name → reason.
fn known_gaps(script: &str) -> BTreeMap<String, String> {
    let path = clients_dir().join("known_gaps.txt");
    let text = std::fs::read_to_string(&path).expect("read tests/clients/known_gaps.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.splitn(3, " | ");
            let (s, check, why) = (parts.next()?, parts.next()?, parts.next()?);
            (s.trim() == script).then(|| (check.trim().to_string(), why.trim().to_string()))
        })
        .collect()
}

/// The checks a script reported on stdout: name → passed.
fn checks(stdout: &str) -> BTreeMap<String, bool> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("CHECK "))
        .filter_map(|l| {
            if let Some(name) = l.strip_suffix(" ... ok") {
                Some((name.to_string(), true))
            } else {
                l.strip_suffix(" ... FAIL")
                    .map(|name| (name.to_string(), false))
            }
        })
        .collect()
}

/// Runs `program args.. HOST PORT --keep-going` from `tests/clients` and
/// checks its results against the known gaps of `script`.
fn run_script(server: &TestServer, script: &str, program: &str, args: &[&str], min_checks: usize) {
    let output = Command::new(program)
        .args(args)
        .arg(server.addr.ip().to_string())
        .arg(server.addr.port().to_string())
        .arg("--keep-going")
        .current_dir(clients_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program} {args:?} (test.sh installs the clients): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let results = checks(&stdout);
    let context = || format!("{script}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        results.len() >= min_checks,
        "{script} reported {} checks, expected at least {min_checks}: {}",
        results.len(),
        context()
    );
    let gaps = known_gaps(script);
    let failed: BTreeSet<&String> = results
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(n, _)| n)
        .collect();
    let unexpected: Vec<&&String> = failed.iter().filter(|n| !gaps.contains_key(**n)).collect();
    assert!(
        unexpected.is_empty(),
        "{script}: checks failed: {unexpected:?}\n{}",
        context()
    );
    let fixed: Vec<&String> = gaps
        .keys()
        .filter(|g| results.get(*g) == Some(&true))
        .collect();
    assert!(
        fixed.is_empty(),
        "{script}: known gaps now pass, remove them from tests/clients/known_gaps.txt: {fixed:?}"
    );
    let missing: Vec<&String> = gaps.keys().filter(|g| !results.contains_key(*g)).collect();
    assert!(
        missing.is_empty(),
        "{script}: known gaps that did not run (renamed?): {missing:?}\n{}",
        context()
    );
    // a script exits non-zero exactly when a check failed
    assert_eq!(output.status.success(), failed.is_empty(), "{}", context());
}

const PGJDBC: &str = "/usr/share/java/postgresql.jar";

#[test]
fn psql_meta_commands_copy_and_tab_completion() {
    let server = TestServer::start();
    run_script(&server, "psql_meta", "python3", &["psql_meta.py"], 17);
}

#[test]
fn psycopg_sqlalchemy_and_pandas() {
    let server = TestServer::start();
    run_script(
        &server,
        "python_clients",
        "python3",
        &["python_clients.py"],
        37,
    );
}

#[test]
fn pgjdbc_metadata_prepared_statements_and_fetch_size() {
    let server = TestServer::start();
    run_script(&server, "jdbc", "java", &["-cp", PGJDBC, "Compat.java"], 23);
}

#[test]
fn psqlodbc_through_pyodbc() {
    let server = TestServer::start();
    run_script(&server, "odbc", "python3", &["odbc_pyodbc.py"], 9);
}

#[test]
fn extended_protocol_execute_with_a_row_limit() {
    let server = TestServer::start();
    run_script(
        &server,
        "wire_fetchsize",
        "python3",
        &["wire_fetchsize.py"],
        8,
    );
}

#[test]
fn grafana_postgres_data_source_replay() {
    let server = TestServer::start();
    run_script(&server, "grafana", "python3", &["grafana_replay.py"], 16);
}

#[test]
fn metabase_replay() {
    let server = TestServer::start();
    run_script(
        &server,
        "metabase",
        "java",
        &["-cp", PGJDBC, "MetabaseReplay.java"],
        20,
    );
}
