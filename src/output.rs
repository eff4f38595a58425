//! Result formats of `almasql query`.

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::json::ArrayWriter;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

/// How `almasql query` prints a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects, one per row.
    Json,
}

/// Writes the rows of `stream` to `out` in `format`. CSV and JSON are
/// written batch by batch; the table format needs every row to align columns.
pub async fn write_stream(
    mut stream: SendableRecordBatchStream,
    format: OutputFormat,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    match format {
        OutputFormat::Table => {
            let mut batches: Vec<RecordBatch> = vec![];
            while let Some(batch) = stream.next().await {
                batches.push(batch?);
            }
            if batches.is_empty() {
                batches.push(RecordBatch::new_empty(stream.schema()));
            }
            writeln!(out, "{}", pretty_format_batches(&batches)?)?;
        }
        OutputFormat::Csv => {
            let mut writer = CsvWriterBuilder::new().with_header(true).build(out);
            let mut wrote = false;
            while let Some(batch) = stream.next().await {
                writer.write(&batch?)?;
                wrote = true;
            }
            if !wrote {
                writer.write(&RecordBatch::new_empty(stream.schema()))?;
            }
        }
        OutputFormat::Json => {
            let mut writer = ArrayWriter::new(out);
            while let Some(batch) = stream.next().await {
                writer.write(&batch?)?;
            }
            writer.finish()?;
            writer
                .into_inner()
                .write_all(b"\n")
                .map_err(DataFusionError::from)?;
        }
    }
    Ok(())
}
