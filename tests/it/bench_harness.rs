//! The benchmark harness (`benches/compare`, issue 10) in its smoke mode, so
//! it cannot rot: scale 1, one repetition, small streaming and pgbench runs,
//! against the binary under test, PostgreSQL and DuckDB. It checks that every
//! step runs and that the engines agree on every query; timings are not
//! asserted.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The last lines of a process's output, for an assertion message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

#[test]
fn benchmark_harness_smoke_runs() {
    let repo = &crate::common::repo_dir();
    let out = tempfile::tempdir().expect("temporary directory");
    // the tokio-postgres streaming client: `cargo test` builds the examples
    // beside the binary under test
    let almasql = Path::new(env!("CARGO_BIN_EXE_almasql"));
    let stream_client = almasql.with_file_name("examples").join("stream_client");
    if !stream_client.is_file() {
        // `cargo test --test it` alone does not build the examples
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "--example", "stream_client"])
            .current_dir(repo);
        if almasql.parent().and_then(Path::file_name) == Some("release".as_ref()) {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo");
        assert!(
            status.success(),
            "cargo build --example stream_client: {status}"
        );
    }
    assert!(
        stream_client.is_file(),
        "{} was not built",
        stream_client.display()
    );
    let output = Command::new("python3")
        .arg("benches/compare/compare.py")
        .arg("--smoke")
        .arg("--almasql")
        .arg(almasql)
        .arg("--stream-client-bin")
        .arg(&stream_client)
        .arg("--out")
        .arg(out.path())
        .current_dir(repo)
        .stdin(Stdio::null())
        .output()
        .expect("run python3 benches/compare/compare.py (test.sh installs its packages)");
    assert!(
        output.status.success(),
        "compare.py --smoke: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        tail(&String::from_utf8_lossy(&output.stdout)),
        tail(&String::from_utf8_lossy(&output.stderr))
    );
    for file in ["results.md", "results.json"] {
        assert!(out.path().join(file).is_file(), "{file} was not written");
    }

    let queries: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(repo.join("benches/compare/queries.json")).unwrap(),
    )
    .expect("queries.json is an object");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .expect("results.json is JSON");
    assert!(!queries.is_empty());
    for name in queries.keys() {
        let entry = &report["queries"][name.as_str()];
        assert_eq!(entry["check"], "ok", "{name}: {entry}");
        for engine in ["almasql", "duckdb", "postgres"] {
            assert!(
                entry["times"][engine]["median"].is_number(),
                "{name}: no {engine} result in results.json: {entry}"
            );
        }
    }
    // issue 11: the TMCDB built from the same samples, checked and timed
    // against the Parquet archive
    let tmcdb = &report["tmcdb"];
    for (name, check) in tmcdb["checks"].as_object().expect("TMCDB checks") {
        assert_eq!(check["ok"], true, "TMCDB check {name}: {check}");
    }
    let day = &tmcdb["queries"]["one_antenna_day"];
    assert_eq!(day["check"], "ok", "{day}");
    for variant in ["tmcdb", "parquet", "postgres"] {
        assert!(
            day["times"][variant]["median"].is_number(),
            "one_antenna_day: no {variant} time: {day}"
        );
    }
    // result streaming with each client from both servers, tokio-postgres
    // (benches/compare/stream_client.rs) included
    let streams = report["streaming"].as_array().expect("streaming results");
    for mode in ["psycopg", "libpq", "tokio-postgres"] {
        for server in ["almasql", "postgres"] {
            assert!(
                streams.iter().any(|s| s["mode"] == mode
                    && s["server"] == server
                    && s["rows_per_s"].is_number()),
                "no {mode} streaming from {server}: {streams:?}"
            );
        }
    }
    assert_eq!(report["failures"], Value::Array(vec![]));
}
