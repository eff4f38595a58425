//! The psql binary against the real server: catalog commands and a query.

use std::process::Command;

use crate::common::TestServer;

fn psql(server: &TestServer, args: &[&str]) -> String {
    let output = Command::new("psql")
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(server.addr.ip().to_string())
        .args([
            "-p",
            &server.addr.port().to_string(),
            "-U",
            "almasql",
            "almasql",
        ])
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql (install postgresql-client)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "psql {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn psql_lists_schemas_tables_and_describes_a_table() {
    let server = TestServer::start();

    let schemas = psql(&server, &["-c", r"\dn"]);
    for schema in ["monitor", "ops", "calibrators", "public"] {
        assert!(schemas.contains(schema), "\\dn lacks {schema}:\n{schemas}");
    }

    let tables = psql(&server, &["-c", r"\dt *.*"]);
    for table in [
        "samples",
        "lo2_frequency_offsets",
        "antennas",
        "projects",
        "executions",
        "measurements",
    ] {
        assert!(tables.contains(table), "\\dt *.* lacks {table}:\n{tables}");
    }

    let described = psql(&server, &["-c", r"\d monitor.samples"]);
    for (column, ty) in [
        ("time", "timestamp"),
        ("antenna", "text"),
        ("polarization", "smallint"),
        ("value", "double precision"),
        ("date", "date"),
    ] {
        let line = described
            .lines()
            .find(|l| l.trim_start().starts_with(column))
            .unwrap_or_else(|| panic!("\\d lacks {column}:\n{described}"));
        assert!(line.contains(ty), "{column} is not {ty}: {line}");
    }
}

#[test]
fn psql_runs_a_query_and_reports_errors() {
    let server = TestServer::start();
    let out = psql(
        &server,
        &[
            "-A",
            "-t",
            "-c",
            "select antenna, count(*) from monitor.samples group by 1 order by 1",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 67, "{out}");
    assert_eq!(lines[0], "CM01|46080");
    assert_eq!(lines[66], "|23040", "the weather rows have no antenna");

    let output = Command::new("psql")
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(server.addr.ip().to_string())
        .args([
            "-p",
            &server.addr.port().to_string(),
            "-U",
            "almasql",
            "almasql",
        ])
        .args(["-c", "select * from nope"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ERROR") && stderr.contains("nope"),
        "{stderr}"
    );
}
