//! `like_escape(pattern, escape)`: a `LIKE` pattern written with another
//! escape character, rewritten with DataFusion's backslash. Behind
//! `x LIKE p ESCAPE 'c'`, which DataFusion only runs for `c = '\'` (see
//! [`super::rewrite`]).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The `like_escape` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LikeEscapeFunc {
    signature: Signature,
}

impl Default for LikeEscapeFunc {
    fn default() -> Self {
        Self {
            signature: Signature::string(2, Volatility::Immutable),
        }
    }
}

/// `pattern` with escape character `escape` (none when empty) in
/// backslash form.
pub fn backslash_pattern(pattern: &str, escape: Option<char>) -> Result<String> {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(n @ ('%' | '_')) => {
                    out.push('\\');
                    out.push(n);
                }
                Some('\\') => out.push_str("\\\\"),
                Some(n) => out.push(n),
                None => return exec_err!("LIKE pattern must not end with escape character"),
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl ScalarUDFImpl for LikeEscapeFunc {
    fn name(&self) -> &str {
        "like_escape"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let escape = match &args.args[1] {
            ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Utf8)? {
                ScalarValue::Utf8(Some(e)) => e,
                _ => return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
            },
            ColumnarValue::Array(_) => return exec_err!("like_escape: ESCAPE must be a constant"),
        };
        let mut chars = escape.chars();
        let escape = match (chars.next(), chars.next()) {
            (None, _) => None,
            (Some(c), None) => Some(c),
            _ => return exec_err!("invalid escape string: it must be empty or one character"),
        };
        match &args.args[0] {
            ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Utf8)? {
                ScalarValue::Utf8(Some(p)) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                    backslash_pattern(&p, escape)?,
                )))),
                _ => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
            },
            ColumnarValue::Array(patterns) => {
                let patterns = cast(patterns, &DataType::Utf8)?;
                let patterns = patterns.as_string::<i32>();
                let mut out = StringBuilder::with_capacity(patterns.len(), patterns.len() * 8);
                for i in 0..patterns.len() {
                    if patterns.is_null(i) {
                        out.append_null();
                    } else {
                        out.append_value(backslash_pattern(patterns.value(i), escape)?);
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backslash_pattern;

    #[test]
    fn patterns_are_rewritten_to_backslash_escapes() {
        // SQLAlchemy's `nspname NOT LIKE 'pg/_%' ESCAPE '/'`
        assert_eq!(backslash_pattern("pg/_%", Some('/')).unwrap(), "pg\\_%");
        assert_eq!(backslash_pattern("a//b", Some('/')).unwrap(), "a/b");
        assert_eq!(backslash_pattern("a\\b%", Some('!')).unwrap(), "a\\\\b%");
        assert_eq!(backslash_pattern("a\\b", None).unwrap(), "a\\\\b");
        assert!(backslash_pattern("abc!", Some('!')).is_err());
    }
}
