//! `json_build_object(key1, value1, ...)`: a JSON object as text.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::{Map, Value};

/// `json_build_object`: PostgreSQL's function, returning the object as text
/// (keys as text; numbers, booleans and NULL as JSON values, the rest as
/// strings).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonBuildObjectFunc {
    signature: Signature,
}

impl Default for JsonBuildObjectFunc {
    fn default() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

/// The JSON value of row `i` of `array`.
fn json_value(array: &ArrayRef, i: usize) -> Result<Value> {
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    let t = array.data_type();
    Ok(if t.is_integer() || t.is_floating() || t.is_numeric() {
        let f = cast(&array.slice(i, 1), &DataType::Float64)?;
        let v = f.as_primitive::<Float64Type>().value(0);
        if t.is_integer() {
            Value::from(v as i64)
        } else {
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
        }
    } else if *t == DataType::Boolean {
        Value::Bool(array.as_boolean().value(i))
    } else {
        let s = cast(&array.slice(i, 1), &DataType::Utf8)?;
        Value::String(s.as_string::<i32>().value(0).to_string())
    })
}

impl ScalarUDFImpl for JsonBuildObjectFunc {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types.len().is_multiple_of(2) {
            return exec_err!("json_build_object: argument list must have even number of elements");
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let keys = arrays
            .iter()
            .step_by(2)
            .map(|k| cast(k, &DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut out = StringBuilder::new();
        for row in 0..rows {
            let mut object = Map::new();
            for (pair, key) in keys.iter().enumerate() {
                if key.is_null(row) {
                    return exec_err!("json_build_object: null value not allowed for object key");
                }
                let key = key.as_string::<i32>().value(row).to_string();
                object.insert(key, json_value(&arrays[2 * pair + 1], row)?);
            }
            out.append_value(Value::Object(object).to_string());
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
