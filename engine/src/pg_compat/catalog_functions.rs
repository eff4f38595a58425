//! Catalog functions PostgreSQL clients call while browsing (psql's `\df`,
//! pgjdbc's `getFunctions`, SQLAlchemy's reflection) whose answer is the
//! same for every object almasql has: no serial sequences, no comments,
//! every function and collation visible. Each returns one constant.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

/// A catalog function whose answer does not depend on its arguments.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ConstantCatalogFunc {
    name: &'static str,
    signature: Signature,
    value: ScalarValue,
}

impl ConstantCatalogFunc {
    /// `name` taking any arguments of the given counts and returning `value`.
    pub fn new(name: &'static str, arities: &[usize], value: ScalarValue) -> Self {
        let signature = Signature::one_of(
            arities.iter().map(|n| TypeSignature::Any(*n)).collect(),
            Volatility::Immutable,
        );
        Self {
            name,
            signature,
            value,
        }
    }
}

impl ScalarUDFImpl for ConstantCatalogFunc {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

/// The constant catalog functions:
/// - `pg_get_serial_sequence(table, column)`: NULL (no column owns a sequence);
/// - `col_description(oid, column)`, `obj_description(oid [, catalog])`,
///   `shobj_description(oid, catalog)`: NULL (no comments);
/// - `pg_function_is_visible(oid)`, `pg_collation_is_visible(oid)`,
///   `pg_type_is_visible(oid)`: true (one search path, nothing shadowed).
pub fn functions() -> Vec<ScalarUDF> {
    let null_text = ScalarValue::Utf8(None);
    let yes = ScalarValue::Boolean(Some(true));
    [
        ("pg_get_serial_sequence", &[2][..], null_text.clone()),
        ("col_description", &[2], null_text.clone()),
        ("obj_description", &[1, 2], null_text.clone()),
        ("shobj_description", &[2], null_text),
        ("pg_function_is_visible", &[1], yes.clone()),
        ("pg_collation_is_visible", &[1], yes.clone()),
        ("pg_type_is_visible", &[1], yes),
    ]
    .into_iter()
    .map(|(name, arities, value)| {
        ScalarUDF::new_from_impl(ConstantCatalogFunc::new(name, arities, value))
    })
    .collect()
}

/// `to_regtype(name)`: the oid of a built-in PostgreSQL type by name (its
/// `pg_type` name or SQL spelling), NULL for any other name, as PostgreSQL
/// answers for a type that does not exist (SQLAlchemy asks for `hstore`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToRegtypeFunc {
    signature: Signature,
}

impl Default for ToRegtypeFunc {
    fn default() -> Self {
        Self {
            signature: Signature::string(1, Volatility::Stable),
        }
    }
}

/// PostgreSQL's oids of its common built-in types, by the names `to_regtype`
/// accepts for them.
const BUILTIN_TYPES: [(&str, i32); 34] = [
    ("bool", 16),
    ("boolean", 16),
    ("bytea", 17),
    ("char", 18),
    ("name", 19),
    ("int8", 20),
    ("bigint", 20),
    ("int2", 21),
    ("smallint", 21),
    ("int4", 23),
    ("integer", 23),
    ("int", 23),
    ("text", 25),
    ("oid", 26),
    ("json", 114),
    ("float4", 700),
    ("real", 700),
    ("float8", 701),
    ("double precision", 701),
    ("varchar", 1043),
    ("character varying", 1043),
    ("date", 1082),
    ("time", 1083),
    ("time without time zone", 1083),
    ("timestamp", 1114),
    ("timestamp without time zone", 1114),
    ("timestamptz", 1184),
    ("timestamp with time zone", 1184),
    ("interval", 1186),
    ("numeric", 1700),
    ("decimal", 1700),
    ("uuid", 2950),
    ("jsonb", 3802),
    ("regtype", 2206),
];

/// The oid of the built-in type `name`, as `to_regtype` resolves it.
pub fn builtin_type_oid(name: &str) -> Option<i32> {
    let name = name
        .trim()
        .trim_start_matches("pg_catalog.")
        .to_ascii_lowercase();
    BUILTIN_TYPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, oid)| *oid)
}

impl ScalarUDFImpl for ToRegtypeFunc {
    fn name(&self) -> &str {
        "to_regtype"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::{Array, AsArray, Int32Array};
        use datafusion::arrow::compute::cast;
        let names = cast(&args.args[0].to_array(args.number_rows)?, &DataType::Utf8)?;
        let names = names.as_string::<i32>();
        let oids: Int32Array = (0..names.len())
            .map(|i| {
                names
                    .is_valid(i)
                    .then(|| builtin_type_oid(names.value(i)))
                    .flatten()
            })
            .collect();
        Ok(ColumnarValue::Array(std::sync::Arc::new(oids)))
    }
}
