//! Result streaming with tokio-postgres: the Rust client of the streaming
//! test in `benches/compare/compare.py`, run against almasql and PostgreSQL.
//!
//! ```text
//! stream_client --dsn "host=127.0.0.1 port=5433 user=almasql dbname=almasql" --sql "select .." [--pid-sql "select pg_backend_pid()"]
//! ```
//!
//! Connects, prints `{"pid": N}` (the backend pid from `--pid-sql`, else
//! null), then waits for a line on stdin so the caller can start sampling the
//! server's memory. It then runs the query with the extended protocol and
//! binary results (tokio-postgres always asks for binary), receives the rows
//! as they arrive, decodes every value of the streaming query's four columns
//! (bigint, bigint, text, double precision), and prints
//! `{"rows": N, "seconds": S, "first_row_seconds": F}`.
//! An example target (`cargo build --release --example stream_client`, and
//! every `cargo test`), so the smoke test of the harness runs it; built by
//! `compare.py --build-inprocess`. Without `--sql` it prints usage.

use std::io::{BufRead, Write};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::StreamExt;
use tokio_postgres::NoTls;

/// Streams one query's rows with tokio-postgres.
#[derive(Parser)]
#[command(name = "stream_client")]
struct Args {
    /// libpq-style connection string.
    #[arg(long)]
    dsn: Option<String>,
    /// The query; its columns must be bigint, bigint, text, double precision.
    #[arg(long)]
    sql: Option<String>,
    /// A query answering the server process id to report, for PostgreSQL.
    #[arg(long)]
    pid_sql: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (Some(dsn), Some(sql)) = (args.dsn, args.sql) else {
        eprintln!("usage: stream_client --dsn DSN --sql SQL [--pid-sql SQL] (run by compare.py)");
        return Ok(());
    };
    let (client, connection) = tokio_postgres::connect(&dsn, NoTls)
        .await
        .with_context(|| format!("connecting to {dsn}"))?;
    let connection = tokio::spawn(connection);

    let pid: Option<i32> = match &args.pid_sql {
        Some(q) => Some(client.query_one(q.as_str(), &[]).await?.get(0)),
        None => None,
    };
    println!("{}", serde_json::json!({ "pid": pid }));
    std::io::stdout().flush()?;
    std::io::stdin().lock().read_line(&mut String::new())?;

    let started = Instant::now();
    let mut first_row = None;
    let rows = client
        .query_raw(
            sql.as_str(),
            std::iter::empty::<&(dyn tokio_postgres::types::ToSql + Sync)>(),
        )
        .await
        .context("running the query")?;
    futures::pin_mut!(rows);
    let (mut n, mut sum) = (0u64, 0f64);
    while let Some(row) = rows.next().await {
        let row = row.context("receiving a row")?;
        first_row.get_or_insert_with(|| started.elapsed());
        let id: i64 = row.try_get(0)?;
        let twice: i64 = row.try_get(1)?;
        let label: &str = row.try_get(2)?;
        let ratio: f64 = row.try_get(3)?;
        if twice != 2 * id || label.is_empty() {
            bail!("row {n} is not what the streaming query gives: {id}, {twice}, {label:?}");
        }
        sum += ratio;
        n += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(client);
    connection.await??;
    println!(
        "{}",
        serde_json::json!({
            "rows": n,
            "seconds": seconds,
            "first_row_seconds": first_row.map(|d| d.as_secs_f64()),
            "ratio_sum": sum,
        })
    );
    Ok(())
}
