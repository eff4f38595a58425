//! `current_setting(name [, missing_ok])` and `current_schema()`, read from
//! the session's own configuration, so `SET` in one connection shows in
//! that connection only.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use super::PG_VERSION;

/// The value of a PostgreSQL run-time parameter in a session with
/// `config`, or `None` for a parameter almasql does not know.
pub fn setting(name: &str, config: &ConfigOptions) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let fixed = match lower.as_str() {
        "server_version" => PG_VERSION,
        "server_version_num" => return Some(version_num(PG_VERSION)),
        "timezone" => return Some(time_zone(config)),
        "search_path" => return Some(config.catalog.default_schema.clone()),
        "datestyle" => "ISO, MDY",
        "intervalstyle" => "postgres",
        "client_encoding" | "server_encoding" => "UTF8",
        "standard_conforming_strings" | "integer_datetimes" => "on",
        "max_identifier_length" => "63",
        "transaction_isolation" | "default_transaction_isolation" => "read committed",
        "transaction_read_only" | "default_transaction_read_only" => "on",
        "is_superuser" => "off",
        "lc_collate" | "lc_ctype" => "C.UTF-8",
        "bytea_output" => "hex",
        "extra_float_digits" => "1",
        _ if lower.starts_with("datafusion.") => {
            return config
                .entries()
                .into_iter()
                .find(|e| e.key == lower)
                .map(|e| e.value.unwrap_or_default());
        }
        _ => return None,
    };
    Some(fixed.to_string())
}

/// The session's time zone as PostgreSQL shows it: `UTC` unless set.
pub fn time_zone(config: &ConfigOptions) -> String {
    match config.execution.time_zone.as_deref() {
        None | Some("") | Some("+00:00") | Some("Z") => "UTC".to_string(),
        Some(tz) => tz.to_string(),
    }
}

/// `16.6` → `160006`, the form of `server_version_num`.
fn version_num(version: &str) -> String {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major * 10000 + minor).to_string()
}

/// `current_setting(name [, missing_ok])`: a run-time parameter as text.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentSettingFunc {
    signature: Signature,
}

impl Default for CurrentSettingFunc {
    fn default() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    TypeSignature::String(1),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
        }
    }
}

impl ScalarUDFImpl for CurrentSettingFunc {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let missing_ok = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Boolean(b))) => b.unwrap_or(false),
            Some(_) => return exec_err!("current_setting: missing_ok must be a constant"),
            None => false,
        };
        let config = args.config_options.as_ref();
        let lookup = |name: Option<&str>| -> Result<Option<String>> {
            let Some(name) = name else { return Ok(None) };
            match setting(name, config) {
                Some(value) => Ok(Some(value)),
                None if missing_ok => Ok(None),
                None => exec_err!("unrecognized configuration parameter \"{name}\""),
            }
        };
        match &args.args[0] {
            ColumnarValue::Scalar(s) => {
                let name = s.cast_to(&DataType::Utf8)?;
                let ScalarValue::Utf8(name) = name else {
                    unreachable!("cast to Utf8")
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(lookup(
                    name.as_deref(),
                )?)))
            }
            ColumnarValue::Array(names) => {
                let names = cast(names, &DataType::Utf8)?;
                let names = names.as_string::<i32>();
                let values = (0..names.len())
                    .map(|i| lookup(names.is_valid(i).then(|| names.value(i))))
                    .collect::<Result<StringArray>>()?;
                Ok(ColumnarValue::Array(Arc::new(values) as ArrayRef))
            }
        }
    }
}

/// `current_schema()`: the first schema of the session's search path.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrentSchemaFunc {
    signature: Signature,
}

impl Default for CurrentSchemaFunc {
    fn default() -> Self {
        Self {
            signature: Signature::nullary(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for CurrentSchemaFunc {
    fn name(&self) -> &str {
        "current_schema"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            args.config_options.catalog.default_schema.clone(),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_the_session_config() {
        let mut config = ConfigOptions::new();
        assert_eq!(setting("server_version_num", &config).unwrap(), "160006");
        assert_eq!(setting("TimeZone", &config).unwrap(), "UTC");
        config.execution.time_zone = Some("Asia/Tokyo".into());
        config.catalog.default_schema = "monitor".into();
        assert_eq!(setting("timezone", &config).unwrap(), "Asia/Tokyo");
        assert_eq!(setting("search_path", &config).unwrap(), "monitor");
        assert_eq!(
            setting("datafusion.catalog.default_schema", &config).unwrap(),
            "monitor"
        );
        assert_eq!(setting("no_such_parameter", &config), None);
    }
}
