//! `monitor_clob_samples(clob [, data_type])`: the samples of TMCDB
//! MonitorClob text, as a list per row (use `unnest` for one row each).

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, TypeSignature, Volatility,
};

use super::clob::{ClobDecoder, DecodeOptions, PointType, ValueKind};

/// The `monitor_clob_samples` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MonitorClobSamplesFunc {
    signature: Signature,
}

impl Default for MonitorClobSamplesFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl MonitorClobSamplesFunc {
    /// `(text [, text]) -> list<struct<time, index, value, value_text>>`.
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![TypeSignature::String(1), TypeSignature::String(2)],
                Volatility::Immutable,
            ),
        }
    }
}

/// The function, ready to register.
pub fn monitor_clob_samples_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(MonitorClobSamplesFunc::new())
}

fn sample_fields() -> Fields {
    let decoded = super::clob::DecodedSamples::schema();
    let field = |name: &str| {
        decoded
            .field_with_name(name)
            .expect("decoded column")
            .clone()
            .with_nullable(true)
    };
    let time = Field::new(
        "time",
        DataType::Timestamp(
            datafusion::arrow::datatypes::TimeUnit::Nanosecond,
            Some("UTC".into()),
        ),
        true,
    );
    Fields::from(vec![
        time,
        field("index"),
        field("value"),
        field("value_text"),
    ])
}

fn return_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(
        DataType::Struct(sample_fields()),
        true,
    )))
}

impl ScalarUDFImpl for MonitorClobSamplesFunc {
    fn name(&self) -> &str {
        "monitor_clob_samples"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(return_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let clobs = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let clobs = clobs.as_string::<i32>();
        let types = match arrays.get(1) {
            Some(a) => Some(datafusion::arrow::compute::cast(a, &DataType::Utf8)?),
            None => None,
        };
        let types = types.as_ref().map(|t| t.as_string::<i32>());
        let mut decoder = ClobDecoder::with_capacity(DecodeOptions::default(), rows * 16);
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0i32);
        for row in 0..rows {
            let point_type = match types {
                Some(t) if t.is_valid(row) => match PointType::parse(t.value(row)) {
                    Ok(p) => p,
                    Err(e) => return exec_err!("monitor_clob_samples: {e}"),
                },
                _ => PointType::auto(ValueKind::Double),
            };
            let clob = clobs.is_valid(row).then(|| clobs.value(row));
            decoder.decode_block(row as u32, clob, point_type);
            let Ok(end) = i32::try_from(decoder.len()) else {
                return exec_err!("monitor_clob_samples: more than 2^31 samples in one batch");
            };
            offsets.push(end);
        }
        let report = decoder.take_report();
        if report.malformed > 0 {
            tracing::warn!(
                malformed = report.malformed,
                "monitor_clob_samples skipped malformed samples: {}",
                report.summary()
            );
        }
        let decoded = decoder.finish();
        let time = datafusion::arrow::compute::cast(&decoded.time, sample_fields()[0].data_type())?;
        let columns: Vec<ArrayRef> = vec![
            time,
            Arc::new(decoded.index),
            Arc::new(decoded.value),
            Arc::new(decoded.value_text),
        ];
        let samples = StructArray::try_new(sample_fields(), columns, None)?;
        let nulls = clobs.nulls().cloned();
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(
                DataType::Struct(sample_fields()),
                true,
            )),
            OffsetBuffer::new(offsets.into()),
            Arc::new(samples),
            nulls,
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                DocSection {
                    include: true,
                    label: "ALMA Monitor Functions",
                    description: None,
                },
                "The samples of a TMCDB MonitorClob (`t1|v1|t2|v2|...`, ACS times) as a list of (time, index, value, value_text); `index` numbers the elements of sequence values. Malformed slots are skipped and logged. Use `unnest` for one row per sample.",
                "monitor_clob_samples(clob [, data_type])",
            )
            .with_sql_example(
                r#"```sql
> SELECT s['time'] AS time, s['value'] AS value
  FROM (SELECT unnest(monitor_clob_samples('138400000000000000|1.5|138400000010000000|2.5')) AS s);
+-------------------------------+-------+
| time                          | value |
+-------------------------------+-------+
| 2021-05-11T04:26:40Z          | 1.5   |
| 2021-05-11T04:26:41Z          | 2.5   |
+-------------------------------+-------+
```"#,
            )
            .with_argument("clob", "MonitorClob text, e.g. the `MonitorData.MonitorClob` column.")
            .with_argument(
                "data_type",
                "The point's `MonitorPoint.DataType` (`double`, `float`, `boolean`, `integer`, `enum`, `string`; `double[]` for sequences); default `double`.",
            )
            .build()
        }))
    }
}
