//! `lst_bins(width_hours)`: table of LST bins covering the day.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, Int32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion_macros::user_doc;

/// Smallest accepted bin width: one second of LST.
const MIN_WIDTH_HOURS: f64 = 1.0 / 3600.0;

#[user_doc(
    doc_section(label = "ALMA Sky Functions"),
    description = "Table function: LST bins of `width_hours` covering [0, 24) h, as rows (bin INT starting at 0, lst_start DOUBLE, lst_end DOUBLE). When 24 is not a multiple of the width the last bin ends at 24 and is shorter. The width must be a constant in [1/3600, 24]. Join it with `lst_overlap_hours` to spread observations over LST.",
    syntax_example = "SELECT * FROM lst_bins(width_hours)",
    sql_example = r#"```sql
> SELECT * FROM lst_bins(8);
+-----+-----------+---------+
| bin | lst_start | lst_end |
+-----+-----------+---------+
| 0   | 0.0       | 8.0     |
| 1   | 8.0       | 16.0    |
| 2   | 16.0      | 24.0    |
+-----+-----------+---------+
```"#,
    argument(
        name = "width_hours",
        description = "Bin width in hours, a numeric constant."
    ),
    related_udf(name = "lst_overlap_hours")
)]
/// The `lst_bins` table function.
#[derive(Debug, Default)]
pub struct LstBinsFunc;

impl LstBinsFunc {
    /// Creates the table function.
    pub fn new() -> Self {
        Self
    }

    /// User documentation of the table function.
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }

    /// Schema of the returned table.
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("bin", DataType::Int32, false),
            Field::new("lst_start", DataType::Float64, false),
            Field::new("lst_end", DataType::Float64, false),
        ]))
    }
}

impl TableFunctionImpl for LstBinsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let width = match args.exprs() {
            [Expr::Literal(value, _)] => literal_width(value)?,
            [_] => {
                return plan_err!("lst_bins(width_hours): width_hours must be a numeric constant");
            }
            other => {
                return plan_err!(
                    "lst_bins(width_hours) takes one argument, got {}",
                    other.len()
                );
            }
        };
        let batch = bins_batch(width)?;
        Ok(Arc::new(MemTable::try_new(
            Self::schema(),
            vec![vec![batch]],
        )?))
    }
}

fn literal_width(value: &ScalarValue) -> Result<f64> {
    if !value.data_type().is_numeric() {
        return plan_err!(
            "lst_bins(width_hours): width_hours must be numeric, got {}",
            value.data_type()
        );
    }
    match value.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(w)) if (MIN_WIDTH_HOURS..=24.0).contains(&w) => Ok(w),
        ScalarValue::Float64(Some(w)) => {
            plan_err!("lst_bins(width_hours): width_hours must be in [1/3600, 24], got {w}")
        }
        _ => plan_err!("lst_bins(width_hours): width_hours must not be NULL"),
    }
}

/// The bins of `width` hours as a record batch.
fn bins_batch(width: f64) -> Result<RecordBatch> {
    // Bin count, tolerant to widths like 0.1 whose multiples are inexact.
    let count = ((24.0 / width) - 1e-9).ceil().max(1.0) as i32;
    let bins = Int32Array::from_iter_values(0..count);
    let starts = Float64Array::from_iter_values((0..count).map(|i| f64::from(i) * width));
    let ends =
        Float64Array::from_iter_values((0..count).map(|i| (f64::from(i + 1) * width).min(24.0)));
    Ok(RecordBatch::try_new(
        LstBinsFunc::schema(),
        vec![Arc::new(bins), Arc::new(starts), Arc::new(ends)],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Float64Type;

    fn ends(width: f64) -> Vec<f64> {
        let batch = bins_batch(width).unwrap();
        batch
            .column(2)
            .as_primitive::<Float64Type>()
            .values()
            .to_vec()
    }

    #[test]
    fn exact_and_ragged_widths() {
        assert_eq!(ends(8.0), vec![8.0, 16.0, 24.0]);
        assert_eq!(ends(24.0), vec![24.0]);
        assert_eq!(ends(5.0), vec![5.0, 10.0, 15.0, 20.0, 24.0]);
        assert_eq!(ends(0.1).len(), 240);
        assert_eq!(ends(1.0 / 3600.0).len(), 86_400);
    }

    #[test]
    fn widths_are_validated() {
        assert_eq!(literal_width(&ScalarValue::Int64(Some(2))).unwrap(), 2.0);
        assert!(literal_width(&ScalarValue::Float64(Some(0.0))).is_err());
        assert!(literal_width(&ScalarValue::Float64(Some(25.0))).is_err());
        assert!(literal_width(&ScalarValue::Float64(Some(f64::NAN))).is_err());
        assert!(literal_width(&ScalarValue::Float64(None)).is_err());
        assert!(literal_width(&ScalarValue::Utf8(Some("1".into()))).is_err());
    }
}
