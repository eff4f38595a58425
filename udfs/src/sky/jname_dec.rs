//! `jname_dec(text)`: declination from a J-name.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::jname::map_jnames;
use crate::common::{Args, string_coercion};

#[user_doc(
    doc_section(label = "ALMA Sky Functions"),
    description = "Declination in degrees encoded in a calibrator J-name: `J` + `HHMM[SS][.s]` + `±` + `DDMM[SS][.s]` (e.g. `J0006-0623`, `J0237+2848`, `J123456.7+123456`). J-names truncate coordinates, so this is the truncated value. NULL for text that is not a J-name.",
    syntax_example = "jname_dec(name)",
    sql_example = r#"```sql
> SELECT jname_dec('J0006-0623') AS dec, jname_dec('J0237+2848') AS dec_north, jname_dec('3C279') AS other;
+--------------------+-----------+-------+
| dec                | dec_north | other |
+--------------------+-----------+-------+
| -6.383333333333334 | 28.8      |       |
+--------------------+-----------+-------+
```"#,
    argument(name = "name", description = "Source name, any string type."),
    related_udf(name = "jname_ra")
)]
/// The `jname_dec` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JnameDecFunc {
    signature: Signature,
}

impl Default for JnameDecFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl JnameDecFunc {
    /// Creates the function with its signature `(text) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![string_coercion()], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JnameDecFunc {
    fn name(&self) -> &str {
        "jname_dec"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let dec = map_jnames(&args.arrays[0], self.name(), |(_, dec)| dec)?;
        args.finish(Arc::new(dec))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
