//! `jname_ra(text)`: right ascension from a J-name.

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
    description = "Right ascension in degrees encoded in a calibrator J-name: `J` + `HHMM[SS][.s]` + `±` + `DDMM[SS][.s]` (e.g. `J0006-0623`, `J0237+2848`, `J123456.7+123456`). J-names truncate coordinates, so this is the truncated value. NULL for text that is not a J-name.",
    syntax_example = "jname_ra(name)",
    sql_example = r#"```sql
> SELECT jname_ra('J0006-0623') AS ra, jname_ra('J123456.7+123456') AS ra_long, jname_ra('3C279') AS other;
+-----+-----------+-------+
| ra  | ra_long   | other |
+-----+-----------+-------+
| 1.5 | 188.73625 |       |
+-----+-----------+-------+
```"#,
    argument(name = "name", description = "Source name, any string type."),
    related_udf(name = "jname_dec")
)]
/// The `jname_ra` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JnameRaFunc {
    signature: Signature,
}

impl Default for JnameRaFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl JnameRaFunc {
    /// Creates the function with its signature `(text) -> double`.
    pub fn new() -> Self {
        Self {
            signature: Signature::coercible(vec![string_coercion()], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JnameRaFunc {
    fn name(&self) -> &str {
        "jname_ra"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let args = Args::new(&args.args, args.number_rows)?;
        let ra = map_jnames(&args.arrays[0], self.name(), |(ra, _)| ra)?;
        args.finish(Arc::new(ra))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
