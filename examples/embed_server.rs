//! Serve an embedded almasql engine over the PostgreSQL protocol from the
//! host's own runtime, query it with tokio-postgres, and shut it down.
//!
//! `cargo run --release --example embed_server`

use almasql::Engine;
use tokio::net::TcpListener;

/// Serves on an ephemeral port, counts the antennas over the wire, stops.
async fn run(data_dir: &std::path::Path) -> Result<i64, Box<dyn std::error::Error>> {
    let engine = Engine::builder().data_dir(data_dir).build().await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server = engine.serve(listener)?;
    let addr = server.local_addr();

    let conn = format!("host={} port={} user=host-app", addr.ip(), addr.port());
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let antennas: i64 = client
        .query_one("select count(*) from ops.antennas", &[])
        .await?
        .get(0);
    drop(client);
    let _ = driver.await;

    server.shutdown().await?;
    Ok(antennas)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let antennas = run(&std::env::temp_dir().join("almasql-embed-server")).await?;
    println!("the embedded server saw {antennas} antennas and has shut down");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread")]
    async fn serves_and_shuts_down() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(super::run(dir.path()).await.unwrap(), 66);
    }
}
