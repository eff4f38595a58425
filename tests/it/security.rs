//! Authentication (SCRAM-SHA-256 verifiers, interchangeable with
//! PostgreSQL's), per-user access, TLS, and the control limits: connection
//! count, cancel, statement timeout and the query memory pool.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;

use crate::common::{TestServer, almasql, data_dir};
use crate::postgres::Postgres;

const ANALYST_PW: &str = "Analyst-pw-2718";
const VIEWER_PW: &str = "Viewer-pw-3141";
const ADMIN_PW: &str = "Admin-pw-1618";

/// A verifier from `almasql password`, given the password on stdin.
fn verifier(password: &str) -> String {
    let mut child = almasql()
        .args(["password", "--user", "x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(password), "the password is printed");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("password = \""))
        .expect("a password line");
    line.trim_end_matches('"').to_string()
}

fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("almasql.toml");
    std::fs::write(
        &path,
        format!("data_dir = \"{}\"\n[demo]\n{body}", data_dir().display()),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn users_config() -> String {
    format!(
        r#"
[[users]]
name = "analyst"
password = "{}"

[[users]]
name = "viewer"
password = "{}"
deny = ["jira", "ops.projects"]

[[users]]
name = "ops"
password = "{}"
role = "admin"
"#,
        verifier(ANALYST_PW),
        verifier(VIEWER_PW),
        verifier(ADMIN_PW)
    )
}

async fn connect_as(
    server: &TestServer,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conn = format!(
        "host=127.0.0.1 port={} user={user} password={password} dbname=almasql application_name=it-{user}",
        server.addr.port()
    );
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn code(e: &tokio_postgres::Error) -> Option<&SqlState> {
    e.code()
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn scram_users_roles_and_hidden_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &users_config());
    let server = TestServer::start_with_env(&["--config", &config], &[]);

    // right and wrong passwords, unknown users
    let analyst = connect_as(&server, "analyst", ANALYST_PW).await.unwrap();
    assert!(count(&analyst, "select count(*) from jira.issues").await > 0);
    for (user, pw) in [("analyst", "wrong"), ("nobody", ANALYST_PW)] {
        let err = connect_as(&server, user, pw)
            .await
            .err()
            .unwrap_or_else(|| panic!("refused"));
        assert_eq!(
            code(&err),
            Some(&SqlState::INVALID_PASSWORD),
            "{user}: {err}"
        );
    }
    // psql (libpq) too
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p"])
        .arg(server.addr.port().to_string())
        .args(["-U", "viewer", "-d", "almasql", "-c", "select 40 + 2"])
        .env("PGPASSWORD", VIEWER_PW)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42", "{out:?}");

    // the viewer neither sees nor reads jira and ops.projects
    let viewer = connect_as(&server, "viewer", VIEWER_PW).await.unwrap();
    assert!(count(&viewer, "select count(*) from monitor.samples").await > 0);
    for sql in [
        "select count(*) from jira.issues",
        "select * from ops.projects",
    ] {
        for simple in [true, false] {
            let err = if simple {
                viewer.simple_query(sql).await.err()
            } else {
                viewer.query(sql, &[]).await.err()
            }
            .expect("denied");
            assert_eq!(
                code(&err),
                Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                "{sql}: {err}"
            );
        }
    }
    let listed = |sql: &'static str| {
        let viewer = &viewer;
        async move { count(viewer, sql).await }
    };
    assert_eq!(
        listed("select count(*) from information_schema.tables where table_schema = 'jira' or (table_schema = 'ops' and table_name = 'projects')").await,
        0
    );
    assert_eq!(
        listed("select count(*) from pg_catalog.pg_namespace where nspname = 'jira'").await,
        0
    );
    assert!(
        listed("select count(*) from information_schema.tables where table_schema = 'ops'").await
            > 0
    );
    assert_eq!(
        count(
            &analyst,
            "select count(*) from pg_catalog.pg_namespace where nspname = 'jira'"
        )
        .await,
        1
    );

    // read-only for everybody, view DDL for admins only
    for sql in [
        "create view public.v_denied as select 1 as x",
        "create materialized view public.mv_denied as select 1 as x",
        "drop view if exists dashboards.ifp_drift",
    ] {
        let err = analyst
            .simple_query(sql)
            .await
            .err()
            .unwrap_or_else(|| panic!("denied"));
        assert_eq!(
            code(&err),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
    let err = analyst
        .simple_query("create table public.t as select 1 as x")
        .await
        .err()
        .unwrap_or_else(|| panic!("denied"));
    assert_eq!(code(&err), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{err}");
    let admin = connect_as(&server, "ops", ADMIN_PW).await.unwrap();
    admin
        .simple_query("create view public.v_sec as select 7 as x")
        .await
        .unwrap();
    assert_eq!(
        count(&analyst, "select x::bigint from public.v_sec").await,
        7
    );
    let err = admin
        .simple_query("insert into public.v_sec values (1)")
        .await
        .err()
        .unwrap_or_else(|| panic!("read-only"));
    assert_eq!(code(&err), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{err}");
    admin.simple_query("drop view public.v_sec").await.unwrap();

    // sessions are listed with user and application name
    let rows = analyst
        .query(
            "select user_name, application_name from almasql.sessions order by user_name",
            &[],
        )
        .await
        .unwrap();
    let users: Vec<(String, Option<String>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(
        users.contains(&("viewer".into(), Some("it-viewer".into()))),
        "{users:?}"
    );
    assert!(
        users.contains(&("analyst".into(), Some("it-analyst".into()))),
        "{users:?}"
    );

    // no password or verifier in the log
    let log = server.stderr_text();
    for secret in [ANALYST_PW, VIEWER_PW, ADMIN_PW, "SCRAM-SHA-256$"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

/// Verifiers are PostgreSQL's: one made by PostgreSQL logs in to almasql,
/// and one made by `almasql password` logs in to PostgreSQL.
#[tokio::test(flavor = "multi_thread")]
async fn verifiers_are_interchangeable_with_postgresql() {
    let pg = Postgres::start();
    pg.psql("set password_encryption = 'scram-sha-256'; create role pgmade login password 'Pg-made-577'");
    let from_pg = pg.psql("select rolpassword from pg_authid where rolname = 'pgmade'");
    assert!(from_pg.starts_with("SCRAM-SHA-256$4096:"), "{from_pg}");
    let ours = verifier("Ours-made-211");
    pg.psql(&format!("create role oursmade login password '{ours}'"));
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p"])
        .arg(pg.port.to_string())
        .args([
            "-U",
            "oursmade",
            "-d",
            "postgres",
            "-c",
            "select current_user",
        ])
        .env("PGPASSWORD", "Ours-made-211")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "oursmade",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("[[users]]\nname = \"pgmade\"\npassword = \"{from_pg}\"\n"),
    );
    let server = TestServer::start_with_env(&["--config", &config], &[]);
    let client = connect_as(&server, "pgmade", "Pg-made-577").await.unwrap();
    assert_eq!(count(&client, "select 5::bigint").await, 5);
    assert!(connect_as(&server, "pgmade", "Pg-made-578").await.is_err());
}

#[test]
fn unsafe_configurations_do_not_start() {
    let dir = tempfile::tempdir().unwrap();
    // password-less logins on a public address
    let out = almasql()
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(data_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without authentication"), "{err}");

    // a plaintext password instead of a verifier, not echoed back
    let config = write_config(
        dir.path(),
        "[[users]]\nname = \"a\"\npassword = \"hunter2-plain\"\n",
    );
    let out = almasql()
        .args(["serve", "--listen", "127.0.0.1:0", "--config", &config])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("users[0].password"), "{err}");
    assert!(!err.contains("hunter2-plain"), "{err}");

    // a TLS certificate that does not exist
    let config = write_config(
        dir.path(),
        "[tls]\ncert = \"/nonexistent/server.crt\"\nkey = \"/nonexistent/server.key\"\n",
    );
    let out = almasql()
        .args(["serve", "--listen", "127.0.0.1:0", "--config", &config])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/server.crt"), "{err}");
}

/// A test CA and a server certificate for localhost / 127.0.0.1, by openssl.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=almasql test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

fn psql_tls(server: &TestServer, dir: &Path, sslmode: &str) -> std::process::Output {
    let conn = format!(
        "host=localhost port={} user=analyst dbname=almasql sslmode={sslmode} sslrootcert={}",
        server.addr.port(),
        dir.join("ca.crt").display()
    );
    Command::new("psql")
        .args(["-X", "-A", "-t", &conn, "-c", "select 'tls ok'"])
        .env("PGPASSWORD", ANALYST_PW)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_verify_full_and_required() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let config = write_config(
        dir.path(),
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\nrequired = true\n[[users]]\nname = \"analyst\"\npassword = \"{}\"\n",
            dir.path().join("server.crt").display(),
            dir.path().join("server.key").display(),
            verifier(ANALYST_PW)
        ),
    );
    let server = TestServer::start_with_env(&["--config", &config], &[]);
    for mode in ["require", "verify-full"] {
        let out = psql_tls(&server, dir.path(), mode);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "tls ok",
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = psql_tls(&server, dir.path(), "disable");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS"), "{err}");
    // the plaintext attempt was refused before any password was asked for
    let err = connect_as(&server, "analyst", ANALYST_PW)
        .await
        .err()
        .unwrap_or_else(|| panic!("plaintext refused"));
    assert_eq!(
        code(&err),
        Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[limits]\nmax_connections = 2\n");
    let server = TestServer::start_with_env(&["--config", &config], &[]);
    let first = server.connect().await;
    let second = server.connect().await;
    let err = tokio_postgres::connect(&server.conn_str(), tokio_postgres::NoTls)
        .await
        .err()
        .unwrap_or_else(|| panic!("third connection refused"));
    assert_eq!(code(&err), Some(&SqlState::TOO_MANY_CONNECTIONS), "{err}");
    assert_eq!(count(&second, "select 1::bigint").await, 1);
    drop(first);
    // the slot frees once the server sees the connection end
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio_postgres::connect(&server.conn_str(), tokio_postgres::NoTls).await {
            Ok(_) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "slot not freed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Runs for minutes unless stopped.
const ENDLESS: &str = "select count(*) from generate_series(1, 100000000000)";

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_statement_timeout() {
    let server = TestServer::start();
    let client = server.connect().await;
    for simple in [true, false] {
        let token = client.cancel_token();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            token.cancel_query(tokio_postgres::NoTls).await.unwrap();
        });
        let started = Instant::now();
        let err = if simple {
            client.simple_query(ENDLESS).await.err()
        } else {
            client.query(ENDLESS, &[]).await.err()
        }
        .expect("cancelled");
        canceller.await.unwrap();
        assert_eq!(code(&err), Some(&SqlState::QUERY_CANCELED), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(count(&client, "select 3::bigint").await, 3);
    }

    client
        .simple_query("set statement_timeout = '300ms'")
        .await
        .unwrap();
    for simple in [true, false] {
        let started = Instant::now();
        let err = if simple {
            client.simple_query(ENDLESS).await.err()
        } else {
            client.query(ENDLESS, &[]).await.err()
        }
        .expect("timed out");
        assert_eq!(code(&err), Some(&SqlState::QUERY_CANCELED), "{err}");
        assert!(
            err.to_string().contains("statement timeout")
                || format!("{err:?}").contains("statement timeout")
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    client
        .simple_query("set statement_timeout = 0")
        .await
        .unwrap();
    assert_eq!(count(&client, "select 4::bigint").await, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_limit_fails_one_query_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[limits]\nmemory = \"32 MiB\"\n");
    let server = TestServer::start_with_env(&["--config", &config], &[]);
    let client = server.connect().await;
    let other = server.connect().await;
    // the build side of this join needs far more than 32 MiB and cannot spill
    let err = client
        .query(
            "select count(*) from generate_series(1, 20000000) a \
             join generate_series(1, 20000000) b on a.value = b.value",
            &[],
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("out of memory"));
    assert_eq!(code(&err), Some(&SqlState::OUT_OF_MEMORY), "{err}");
    assert_eq!(count(&client, "select 8::bigint").await, 8);
    assert!(count(&other, "select count(*) from monitor.samples").await > 0);
}

/// `SET` changes only the connection that ran it.
#[tokio::test(flavor = "multi_thread")]
async fn settings_are_per_connection() {
    let server = TestServer::start();
    let a = server.connect().await;
    let b = server.connect().await;
    a.simple_query("set datafusion.execution.batch_size = 123")
        .await
        .unwrap();
    assert_eq!(show(&a).await, "123");
    assert_eq!(show(&b).await, "8192");
}

async fn show(client: &tokio_postgres::Client) -> String {
    client
        .query_one(
            "select value from information_schema.df_settings \
             where name = 'datafusion.execution.batch_size'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// CPU time (user + system) the process `pid` has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/pid/stat");
    // the fields after the command name, which is in parentheses
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line (11 and 12 here)
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A client that goes away in the middle of a result stops its query: its
/// session leaves `almasql.sessions` and the server stops working for it.
#[tokio::test(flavor = "multi_thread")]
async fn client_disconnecting_mid_stream_stops_its_query() {
    use futures::StreamExt;

    let server = TestServer::start();
    let observer = server.connect().await;
    let (client, connection) = tokio_postgres::connect(&server.conn_str(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    // billions of rows: the query would run for hours if it were not stopped
    let rows = client
        .query_raw(
            "select x, x * 2 as y from generate_series(1, 100000000000) as t(x)",
            std::iter::empty::<i64>(),
        )
        .await
        .unwrap();
    let mut rows = Box::pin(rows);
    for _ in 0..10_000 {
        rows.next().await.expect("a row").unwrap();
    }
    assert_eq!(
        count(&observer, "select count(*) from almasql.sessions").await,
        2
    );
    // the client process dies: its socket closes mid-result
    driver.abort();
    drop(rows);
    drop(client);

    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&observer, "select count(*) from almasql.sessions").await != 1 {
        assert!(
            Instant::now() < deadline,
            "the session of the disconnected client is still listed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // the server is idle again: a running query would use a core or more
    let before = cpu_ticks(server.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_ticks(server.pid()) - before;
    // clock ticks are 1/100 s on Linux: less than half a second of CPU in 2 s
    assert!(
        used < 50,
        "the server used {used} ticks after the disconnect"
    );
    assert_eq!(count(&observer, "select 5::bigint").await, 5);
}
