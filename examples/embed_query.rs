//! Build an almasql engine inside a program, query it, print the result.
//!
//! `cargo run --release --example embed_query`

use almasql::Engine;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::print_batches;

/// Builds the embedded default (demo data generated into `data_dir` if
/// missing) and asks which LO2 modules report the most frequency offsets.
async fn run(data_dir: &std::path::Path) -> almasql::Result<Vec<RecordBatch>> {
    let engine = Engine::builder().data_dir(data_dir).build().await?;
    let df = engine
        .sql(
            "select antenna, device, count(*) as offsets from monitor.lo2_frequency_offsets \
              group by antenna, device order by offsets desc limit 3",
        )
        .await?;
    Ok(df.collect().await?)
}

#[tokio::main]
async fn main() -> almasql::Result<()> {
    let batches = run(&std::env::temp_dir().join("almasql-embed-query")).await?;
    print_batches(&batches)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::AsArray;

    #[tokio::test(flavor = "multi_thread")]
    async fn finds_the_dominant_lo2_modules() {
        let dir = tempfile::tempdir().unwrap();
        let batches = super::run(dir.path()).await.unwrap();
        let antennas: Vec<&str> = batches[0]
            .column(0)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        let expected: Vec<&str> = almasql::engine::demo::DOMINANT_LO2
            .iter()
            .map(|d| d.0)
            .collect();
        assert_eq!(antennas, expected);
    }
}
