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

/// A documented result cell and the one psql printed agree: the same text,
/// the same number (`0` and `0.0`), or the same instant (arrow's
/// `2024-01-01T00:00:00Z`, PostgreSQL's `2024-01-01 00:00:00.000000+00`).
fn same_cell(documented: &str, printed: &str) -> bool {
    if documented == printed {
        return true;
    }
    if let (Ok(a), Ok(b)) = (documented.parse::<f64>(), printed.parse::<f64>()) {
        return a == b;
    }
    let instant = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z"))
            .ok()
    };
    matches!((instant(documented), instant(printed)), (Some(a), Some(b)) if a == b)
}

#[test]
fn every_documented_function_example_gives_its_result_over_psql() {
    // issue 6: each function is callable over psql in the embedded default,
    // its documented example printing the documented result
    let server = TestServer::start();
    let mut failures = vec![];
    let mut checked = 0;
    for function in almasql::udfs::all_functions() {
        let doc = function.documentation().expect("documented");
        let example = doc.sql_example.as_deref().expect("sql_example");
        for query in almasql::udfs::docs::example_queries(example) {
            // unaligned, '|' between fields, footer off: header then rows
            let printed = psql(
                &server,
                &["-A", "-F", "|", "-P", "footer=off", "-c", &query.sql],
            );
            let printed: Vec<Vec<String>> = printed
                .lines()
                .map(|l| l.split('|').map(str::to_string).collect())
                .collect();
            let documented = query.cells();
            let same = printed.len() == documented.len()
                && printed.iter().zip(&documented).all(|(p, d)| {
                    p.len() == d.len() && p.iter().zip(d).all(|(p, d)| same_cell(d, p))
                });
            checked += 1;
            if !same {
                failures.push(format!(
                    "{}: {}\ndocumented {documented:?}\npsql {printed:?}",
                    function.name(),
                    query.sql
                ));
            }
        }
    }
    assert!(checked >= 20, "only {checked} examples");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
