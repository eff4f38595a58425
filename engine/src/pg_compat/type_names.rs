//! PostgreSQL type names of Arrow types, for `information_schema.columns`:
//! DataFusion's view shows Arrow's names (`Timestamp(µs, "UTC")`), which
//! clients such as Grafana and Metabase show to users or parse.

use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The PostgreSQL `data_type` and `udt_name` of an Arrow type, as
/// `information_schema.columns` shows them (`timestamp with time zone`,
/// `timestamptz`).
pub fn pg_type_names(t: &DataType) -> (String, String) {
    use DataType::*;
    let (data_type, udt) = match t {
        Boolean => ("boolean", "bool"),
        Int8 | Int16 | UInt8 => ("smallint", "int2"),
        Int32 | UInt16 => ("integer", "int4"),
        Int64 | UInt32 => ("bigint", "int8"),
        UInt64 | Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => {
            ("numeric", "numeric")
        }
        Float16 | Float32 => ("real", "float4"),
        Float64 => ("double precision", "float8"),
        Utf8 | LargeUtf8 | Utf8View | Null => ("text", "text"),
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => ("bytea", "bytea"),
        Date32 | Date64 => ("date", "date"),
        Timestamp(_, None) => ("timestamp without time zone", "timestamp"),
        Timestamp(_, Some(_)) => ("timestamp with time zone", "timestamptz"),
        Time32(_) | Time64(_) => ("time without time zone", "time"),
        Interval(_) | Duration(_) => ("interval", "interval"),
        List(f) | LargeList(f) | FixedSizeList(f, _) | ListView(f) | LargeListView(f) => {
            let (_, element) = pg_type_names(f.data_type());
            return ("ARRAY".to_string(), format!("_{element}"));
        }
        Dictionary(_, value) => return pg_type_names(value),
        RunEndEncoded(_, value) => return pg_type_names(value.data_type()),
        Struct(_) | Map(..) | Union(..) => ("json", "json"),
    };
    (data_type.to_string(), udt.to_string())
}

/// Which of the two names a [`PgTypeNameFunc`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeNameKind {
    /// `information_schema.columns.data_type`
    DataType,
    /// `information_schema.columns.udt_name`
    UdtName,
}

/// `pg_data_type_name(arrow_type_text)` / `pg_udt_name(arrow_type_text)`:
/// the PostgreSQL name of an Arrow type given as its display text.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PgTypeNameFunc {
    kind: TypeNameKind,
    signature: Signature,
}

impl PgTypeNameFunc {
    /// The function returning `kind`.
    pub fn new(kind: TypeNameKind) -> Self {
        Self {
            kind,
            signature: Signature::string(1, Volatility::Immutable),
        }
    }

    fn name_of(&self, arrow_type: &str) -> String {
        let (data_type, udt) = match DataType::from_str(arrow_type) {
            Ok(t) => pg_type_names(&t),
            // not an Arrow type: leave it as it is
            Err(_) => (arrow_type.to_string(), arrow_type.to_string()),
        };
        match self.kind {
            TypeNameKind::DataType => data_type,
            TypeNameKind::UdtName => udt,
        }
    }
}

impl ScalarUDFImpl for PgTypeNameFunc {
    fn name(&self) -> &str {
        match self.kind {
            TypeNameKind::DataType => "pg_data_type_name",
            TypeNameKind::UdtName => "pg_udt_name",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match &args.args[0] {
            ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Utf8)? {
                ScalarValue::Utf8(Some(t)) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                    self.name_of(&t),
                )))),
                _ => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
            },
            ColumnarValue::Array(types) => {
                let types = cast(types, &DataType::Utf8)?;
                let types = types.as_string::<i32>();
                let mut out = StringBuilder::with_capacity(types.len(), types.len() * 8);
                for i in 0..types.len() {
                    if types.is_null(i) {
                        out.append_null();
                    } else {
                        out.append_value(self.name_of(types.value(i)));
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{Field, TimeUnit};

    use super::*;

    /// The names PostgreSQL 15's information_schema.columns shows for the
    /// corresponding column types.
    #[test]
    fn arrow_types_get_postgres_names_through_their_display_text() {
        let cases = [
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                "timestamp with time zone",
                "timestamptz",
            ),
            (
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                "timestamp without time zone",
                "timestamp",
            ),
            (DataType::Utf8, "text", "text"),
            (DataType::Utf8View, "text", "text"),
            (DataType::Float64, "double precision", "float8"),
            (DataType::Int16, "smallint", "int2"),
            (DataType::Int64, "bigint", "int8"),
            (DataType::Date32, "date", "date"),
            (DataType::Boolean, "boolean", "bool"),
            (
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                "ARRAY",
                "_text",
            ),
            (
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                "text",
                "text",
            ),
        ];
        for (arrow, data_type, udt) in cases {
            let text = arrow.to_string();
            let f = PgTypeNameFunc::new(TypeNameKind::DataType);
            let u = PgTypeNameFunc::new(TypeNameKind::UdtName);
            assert_eq!(f.name_of(&text), data_type, "{text}");
            assert_eq!(u.name_of(&text), udt, "{text}");
        }
    }
}
