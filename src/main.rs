//! The `almasql` command: serve, query, and write the demo dataset.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use almasql::Engine;
use almasql::engine::Config;
use almasql::engine::auth::{DEFAULT_ITERATIONS, ScramVerifier};
use almasql::engine::demo::{self, Progress};
use almasql::output::{OutputFormat, write_stream};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SQL over ALMA operational data, served over the PostgreSQL wire protocol.
#[derive(Debug, Parser)]
#[command(name = "almasql", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the PostgreSQL-wire server.
    ///
    /// Without --config it serves the embedded default: the synthetic ALMA
    /// demo dataset, generated into the data directory on first start.
    Serve {
        #[command(flatten)]
        common: CommonArgs,
        /// Address to listen on [default: 127.0.0.1:5433, or the config's `listen`].
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run one SQL statement in-process and print the result.
    Query {
        /// The SQL to run.
        sql: String,
        #[command(flatten)]
        common: CommonArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Make a SCRAM-SHA-256 verifier for a `[[users]]` entry.
    ///
    /// Reads the password from the terminal (twice, without echo), or one
    /// line from standard input when it is not a terminal, and prints the
    /// verifier; the password itself is never stored or printed.
    Password {
        /// The user's name, for the printed `[[users]]` snippet.
        #[arg(long, default_value = "analyst")]
        user: String,
    },
    /// Write the synthetic ALMA demo dataset.
    DemoData {
        /// Directory to write into.
        #[arg(long)]
        out: PathBuf,
        /// Size factor: scale N holds 4·N days of data.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        scale: u32,
        /// Random seed; the same seed and scale give byte-identical files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Configuration file (TOML). Without it, the embedded default is used.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory [default: ./almasql-data, or the config's `data_dir`].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl CommonArgs {
    fn load(&self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, steps: u64) {
        self.0.set_length(steps);
        self.0.set_message("generating the ALMA demo dataset");
    }

    fn step(&self, label: &str) {
        self.0.set_message(label.to_string());
        self.0.inc(1);
    }

    fn finish(&self) {
        self.0.finish_with_message("demo dataset ready");
    }
}

fn progress_bar() -> Arc<Bar> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    Arc::new(Bar(bar))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

/// A new password from the terminal (asked twice) or one line of stdin.
fn read_password() -> Result<String> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    anyhow::ensure!(!password.is_empty(), "the password is empty");
    Ok(password)
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { common, listen } => {
            let mut config = common.load()?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            let engine = Engine::builder()
                .config(config.clone())
                .progress(progress_bar())
                .build()
                .await?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let server = engine.serve(listener)?;
            let addr = server.local_addr();
            tracing::info!(%addr, data_dir = %config.data_dir.display(), "almasql is listening");
            println!("almasql is listening on {addr}");
            println!(
                "connect with: psql -h {} -p {} -U almasql {}",
                addr.ip(),
                addr.port(),
                config.database
            );
            shutdown_signal().await;
            server.shutdown().await?;
            Ok(())
        }
        Command::Query {
            sql,
            common,
            format,
        } => {
            let config = common.load()?;
            let engine = Engine::builder()
                .config(config)
                .progress(progress_bar())
                .scheduler(false)
                .build()
                .await?;
            let stream = engine.sql(&sql).await?.execute_stream().await?;
            let mut stdout = std::io::BufWriter::new(std::io::stdout());
            write_stream(stream, format, &mut stdout).await?;
            std::io::Write::flush(&mut stdout)?;
            Ok(())
        }
        Command::Password { user } => {
            let password = read_password()?;
            let verifier = ScramVerifier::from_password(&password, DEFAULT_ITERATIONS);
            println!("[[users]]\nname = \"{user}\"\npassword = \"{verifier}\"");
            Ok(())
        }
        Command::DemoData { out, scale, seed } => {
            let bar = progress_bar();
            let manifest = demo::generate(&out, scale, seed, bar.as_ref())
                .with_context(|| format!("writing the demo dataset to {}", out.display()))?;
            let rows: u64 = manifest.rows.values().sum();
            println!(
                "wrote the demo dataset (scale {scale}, seed {seed}) to {}: {rows} table rows, {} log records, {} JIRA issues",
                out.display(),
                manifest.log_records,
                manifest.jira_issues
            );
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
