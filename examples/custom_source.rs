//! A host-defined table and function used together with the ALMA tables.
//!
//! `cargo run --release --example custom_source`

use std::sync::Arc;

use almasql::Engine;
use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::print_batches;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};

/// The host's own data: which crew looks after which antenna.
fn crews() -> Arc<MemTable> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("antenna", DataType::Utf8, false),
        Field::new("crew", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["DV11", "DA58", "CM05"])),
            Arc::new(StringArray::from(vec!["front-end", "back-end", "aca"])),
        ],
    )
    .expect("valid batch");
    Arc::new(MemTable::try_new(schema, vec![vec![batch]]).expect("valid table"))
}

/// The host's own function: `shout(text)` upper-cases its argument.
fn shout() -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        "shout",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let upper: StringArray = arrays[0]
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_uppercase))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(upper)))
        }),
    )
}

/// Joins the LO2 offsets with the host's crews, through the host's function.
async fn run(data_dir: &std::path::Path) -> almasql::Result<Vec<RecordBatch>> {
    let engine = Engine::builder()
        .data_dir(data_dir)
        .table("host.crews", crews())
        .scalar_udf(shout())
        .build()
        .await?;
    let df = engine
        .sql(
            "select o.antenna, shout(c.crew) as crew, count(*) as offsets \
              from monitor.lo2_frequency_offsets o join host.crews c on c.antenna = o.antenna \
              group by o.antenna, c.crew order by offsets desc",
        )
        .await?;
    Ok(df.collect().await?)
}

#[tokio::main]
async fn main() -> almasql::Result<()> {
    let batches = run(&std::env::temp_dir().join("almasql-custom-source")).await?;
    print_batches(&batches)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::AsArray;

    #[tokio::test(flavor = "multi_thread")]
    async fn joins_host_and_alma_tables() {
        let dir = tempfile::tempdir().unwrap();
        let batches = super::run(dir.path()).await.unwrap();
        let crews: Vec<&str> = batches[0]
            .column(1)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        assert_eq!(crews, ["FRONT-END", "BACK-END", "ACA"]);
    }
}
