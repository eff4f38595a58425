//! `format(formatstr, args...)`: PostgreSQL's string formatting with `%s`
//! (text), `%I` (quoted identifier), `%L` (quoted literal) and `%%`, as
//! Metabase uses it to name tables (`format('%I.%I', schema, table)`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The `format` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FormatFunc {
    signature: Signature,
}

impl Default for FormatFunc {
    fn default() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Stable),
        }
    }
}

/// `name` as PostgreSQL's `quote_ident` writes it.
fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `format` of one row: `args` are the texts of its arguments.
pub fn format_row(pattern: &str, args: &[Option<&str>]) -> Result<Option<String>> {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut next = 0;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let conversion = match chars.next() {
            Some('%') => {
                out.push('%');
                continue;
            }
            Some(conversion @ ('s' | 'I' | 'L')) => conversion,
            Some(other) => {
                return exec_err!("format: unrecognized conversion type specifier \"{other}\"");
            }
            None => return exec_err!("format: unterminated format() type specifier"),
        };
        let Some(arg) = args.get(next) else {
            return exec_err!("format: too few arguments");
        };
        next += 1;
        match (conversion, arg) {
            ('s', Some(v)) => out.push_str(v),
            ('s', None) => {}
            ('I', Some(v)) => out.push_str(&quote_ident(v)),
            ('I', None) => {
                return exec_err!("format: null values cannot be formatted as an SQL identifier");
            }
            ('L', Some(v)) => out.push_str(&format!("'{}'", v.replace('\'', "''"))),
            ('L', None) => out.push_str("NULL"),
            _ => unreachable!("conversion checked above"),
        }
    }
    Ok(Some(out))
}

impl ScalarUDFImpl for FormatFunc {
    fn name(&self) -> &str {
        "format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let texts: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| Ok(cast(&a.to_array(rows)?, &DataType::Utf8)?))
            .collect::<Result<_>>()?;
        let Some((pattern, rest)) = texts.split_first() else {
            return exec_err!("format: needs a format string");
        };
        let pattern = pattern.as_string::<i32>();
        let rest: Vec<_> = rest.iter().map(|a| a.as_string::<i32>()).collect();
        let mut out = StringBuilder::with_capacity(rows, rows * 16);
        for row in 0..rows {
            if pattern.is_null(row) {
                out.append_null();
                continue;
            }
            let values: Vec<Option<&str>> = rest
                .iter()
                .map(|a| (!a.is_null(row)).then(|| a.value(row)))
                .collect();
            out.append_option(format_row(pattern.value(row), &values)?);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::format_row;

    /// Cases from PostgreSQL 16's documentation of `format`.
    #[test]
    fn formats_like_postgresql() {
        let f = |p: &str, a: &[Option<&str>]| format_row(p, a).unwrap().unwrap();
        assert_eq!(f("Hello %s", &[Some("World")]), "Hello World");
        assert_eq!(
            f(
                "INSERT INTO %I VALUES(%L)",
                &[Some("Foo bar"), Some("O'Reilly")]
            ),
            "INSERT INTO \"Foo bar\" VALUES('O''Reilly')"
        );
        assert_eq!(
            f("%I.%I", &[Some("monitor"), Some("samples")]),
            "monitor.samples"
        );
        assert_eq!(f("%s%%|%L", &[None, None]), "%|NULL");
        assert!(format_row("%s %s", &[Some("a")]).is_err());
    }
}
