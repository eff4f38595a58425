//! Shared set-up: one demo dataset per test run, and servers started from
//! the real binary on ephemeral ports.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository: Cargo's `CARGO_MANIFEST_DIR` of this run, which is this
/// checkout's even when a checkout sharing the target directory built the
/// test binary; else the build's.
pub fn repo_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from)
}

/// The `almasql` binary under test.
pub fn almasql() -> Command {
    Command::new(env!("CARGO_BIN_EXE_almasql"))
}

/// A data directory holding the default demo dataset (scale 1, seed 42),
/// generated once per test run by the real binary, in cargo's temporary
/// directory for integration tests.
pub fn data_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("almasql-it-data");
        let status = almasql()
            .args(["demo-data", "--out"])
            .arg(dir.join("demo"))
            .status()
            .expect("run almasql demo-data");
        assert!(status.success(), "demo-data failed");
        dir
    })
}

/// A running server process, killed when dropped.
pub struct TestServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its stderr (the log) goes, when captured.
    log: Option<tempfile::NamedTempFile>,
}

impl TestServer {
    /// Starts `almasql serve` on an ephemeral port over the shared demo data.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts `almasql serve` with extra arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        Self::spawn(data_dir(), extra, &[], None)
    }

    /// Starts `almasql serve` on its own data directory `dir` (the demo
    /// dataset is generated there on first start), capturing its log.
    pub fn start_in(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(
            dir,
            extra,
            env,
            Some(tempfile::NamedTempFile::new().expect("log file")),
        )
    }

    /// Starts `almasql serve` with extra arguments and environment
    /// variables, capturing its log (see [`TestServer::stderr_text`]).
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(
            data_dir(),
            extra,
            env,
            Some(tempfile::NamedTempFile::new().expect("log file")),
        )
    }

    fn spawn(
        dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Option<tempfile::NamedTempFile>,
    ) -> Self {
        let stderr = match &log {
            Some(file) => Stdio::from(file.reopen().expect("open log file")),
            None => Stdio::inherit(),
        };
        let mut child = almasql()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start almasql serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let addr = loop {
            assert!(Instant::now() < deadline, "server did not start in time");
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("read server output");
            if let Some(rest) = line.strip_prefix("almasql is listening on ") {
                break rest.trim().parse().expect("address in the start-up line");
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr, log }
    }

    /// The server's log so far (empty unless started with
    /// [`TestServer::start_with_env`]).
    pub fn stderr_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f.path()).ok())
            .unwrap_or_default()
    }

    /// A tokio-postgres connection string for this server.
    pub fn conn_str(&self) -> String {
        format!(
            "host={} port={} user=almasql dbname=almasql",
            self.addr.ip(),
            self.addr.port()
        )
    }

    /// Connects with tokio-postgres, driving the connection on the runtime.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.conn_str(), tokio_postgres::NoTls)
            .await
            .expect("connect to almasql");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for server") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
