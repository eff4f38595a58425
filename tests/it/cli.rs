//! The command line: `query` in each format, `demo-data` determinism, and
//! configuration errors.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{almasql, data_dir};

fn query(format: &str, sql: &str) -> std::process::Output {
    almasql()
        .args(["query", sql, "--format", format, "--data-dir"])
        .arg(data_dir())
        .output()
        .expect("run almasql query")
}

const SQL: &str =
    "select antenna, pad from ops.antennas where antenna in ('DV07', 'CM01') order by antenna";

#[test]
fn query_prints_table_csv_and_json() {
    let out = query("table", SQL);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("| antenna | pad  |"), "{table}");
    assert!(table.contains("| CM01    | J501 |"), "{table}");

    let out = query("csv", SQL);
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines, ["antenna,pad", "CM01,J501", "DV07,A063"]);

    let out = query("json", SQL);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"antenna": "CM01", "pad": "J501"}, {"antenna": "DV07", "pad": "A063"}])
    );
}

#[test]
fn query_fails_with_the_error_message() {
    let out = query("table", "select * from ops.nope");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ops.nope") && stderr.contains("not found"),
        "{stderr}"
    );
}

fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn demo_data_is_byte_identical_for_the_same_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let gen_into = |name: &str, seed: &str| {
        let dir = tmp.path().join(name);
        let status = almasql()
            .args(["demo-data", "--seed", seed, "--scale", "1", "--out"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
        read_tree(&dir)
    };
    let a = gen_into("a", "7");
    let b = gen_into("b", "7");
    let c = gen_into("c", "8");
    assert!(
        a.len() > 200,
        "expected the whole dataset, got {} files",
        a.len()
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between two runs with the same seed"
        );
    }
    let differing = a.iter().filter(|(k, v)| c.get(*k) != Some(v)).count();
    assert!(
        differing > a.len() / 2,
        "another seed changed only {differing} files"
    );
}

#[test]
fn bad_config_is_rejected_naming_the_key_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown.toml",
            "listen = \"127.0.0.1:5433\"\nlisten_adress = \"x\"\n",
            "listen_adress",
        ),
        ("type.toml", "[demo]\nscale = \"large\"\n", "demo.scale"),
        (
            "source.toml",
            "[[sources]]\nname = \"ops.x\"\nkind = \"csv\"\nlocation = \"/x.csv\"\nseparator = \";\"\n",
            "separator",
        ),
    ];
    for (file, text, key) in cases {
        let path = tmp.path().join(file);
        std::fs::write(&path, text).unwrap();
        let out = almasql()
            .args(["query", "select 1", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{file} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(key),
            "{file}: error does not name `{key}`: {stderr}"
        );
        assert!(
            stderr.contains(file),
            "{file}: error does not name the file: {stderr}"
        );
    }
}

#[test]
fn example_config_is_valid_and_serves_its_sources() {
    let root = &crate::common::repo_dir();
    let tmp = tempfile::tempdir().unwrap();
    // The example's paths are relative to the working directory: run it from
    // one where ./almasql-data is the shared test dataset.
    std::os::unix::fs::symlink(data_dir(), tmp.path().join("almasql-data")).unwrap();
    std::os::unix::fs::symlink(root.join("config"), tmp.path().join("config")).unwrap();
    let out = almasql()
        .current_dir(tmp.path())
        .args([
            "query",
            "select count(*) as n from ops.shifts",
            "--format",
            "csv",
            "--config",
        ])
        .arg(root.join("config/almasql.example.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "n\n3\n");
}
