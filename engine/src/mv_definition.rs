//! The names and options of materialized views: shared by the
//! configuration file (`[[materialized_views]]`), the statement recognizer
//! (`WITH (...)`) and the materialized-view manager.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The schema a materialized view goes to when its name has none.
pub const DEFAULT_SCHEMA: &str = "public";

/// The qualified name of a materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MvName {
    /// The schema, `public` unless given.
    pub schema: String,
    /// The view's name within the schema.
    pub name: String,
}

impl MvName {
    /// A name from its parts.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// Parses `schema.name` or `name` (schema `public`) written as in a
    /// configuration file: no quoting, taken as it is.
    pub fn from_config(text: &str) -> Option<Self> {
        match text.split_once('.') {
            Some((s, n)) if !s.is_empty() && !n.is_empty() && !n.contains('.') => {
                Some(Self::new(s, n))
            }
            None if !text.is_empty() => Some(Self::new(DEFAULT_SCHEMA, text)),
            _ => None,
        }
    }
}

impl fmt::Display for MvName {
    /// `schema.name`, each part double-quoted when it needs to be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}",
            quote_ident(&self.schema),
            quote_ident(&self.name)
        )
    }
}

/// Quotes an identifier the PostgreSQL way unless it is a plain lower-case
/// name.
pub fn quote_ident(ident: &str) -> String {
    let plain = ident
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        ident.to_string()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

/// How a materialized view is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefreshMode {
    /// Recompute the whole query and replace the stored rows.
    #[default]
    Full,
    /// Add the rows newer than the stored maximum of the time column.
    Append,
}

impl RefreshMode {
    /// `full` or `append`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Append => "append",
        }
    }
}

impl std::str::FromStr for RefreshMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "append" => Ok(Self::Append),
            other => Err(format!("`{other}` is not a refresh mode (full or append)")),
        }
    }
}

/// A time span written like `1 hour`, `10 minutes` or `1h30m`, kept with
/// the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeSpan {
    text: String,
    duration: Duration,
}

impl TimeSpan {
    /// Parses a span: one or more `<number> <unit>` pairs, the number an
    /// integer or decimal, the unit one of `ms`, `s`/`sec`/`second(s)`,
    /// `m`/`min`/`minute(s)`, `h`/`hour(s)`, `d`/`day(s)`, `w`/`week(s)`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let duration = parse_duration(text)?;
        Ok(Self {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            duration,
        })
    }

    /// The span.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The text it was written as (whitespace normalized).
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for TimeSpan {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<TimeSpan> for String {
    fn from(span: TimeSpan) -> String {
        span.text
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad =
        |why: &str| format!("`{text}` is not a time span ({why}; e.g. '1 hour', '10 minutes')");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| bad("expected a number"))?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let seconds = match rest[..unit_len].to_ascii_lowercase().as_str() {
            "ms" | "msec" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "w" | "week" | "weeks" => 7.0 * 86400.0,
            "" => return Err(bad("missing unit")),
            _ => return Err(bad("unknown unit")),
        };
        total += number * seconds;
        rest = rest[unit_len..].trim_start();
    }
    if !total.is_finite() || total > 100.0 * 365.0 * 86400.0 {
        return Err(bad("too long"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// The `WITH (...)` options of a materialized view (also the keys of a
/// `[[materialized_views]]` entry in the configuration file).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MvOptions {
    /// How often the scheduler refreshes the view; `None`: only on
    /// `REFRESH MATERIALIZED VIEW`.
    pub refresh: Option<TimeSpan>,
    /// Full or append refresh.
    pub mode: RefreshMode,
    /// The column whose maximum marks what an append refresh has seen.
    pub time_column: Option<String>,
    /// How far before the stored maximum an append refresh reads again (for
    /// late rows); rows already stored are not added twice.
    pub overlap: Option<TimeSpan>,
}

impl MvOptions {
    /// Checks that the options fit together; the error names the option.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(refresh) = &self.refresh
            && refresh.duration().is_zero()
        {
            return Err(("refresh", "must be longer than zero".to_string()));
        }
        match self.mode {
            RefreshMode::Append if self.time_column.is_none() => Err((
                "time_column",
                "is required with mode = 'append'".to_string(),
            )),
            RefreshMode::Full if self.time_column.is_some() => Err((
                "time_column",
                "is only used with mode = 'append'".to_string(),
            )),
            RefreshMode::Full if self.overlap.is_some() => {
                Err(("overlap", "is only used with mode = 'append'".to_string()))
            }
            _ => Ok(()),
        }
    }

    /// The options as a `WITH (...)` clause, empty when all are defaults.
    pub fn to_sql(&self) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let mut parts = vec![];
        if let Some(refresh) = &self.refresh {
            parts.push(format!("refresh = {}", quote(refresh.text())));
        }
        if self.mode != RefreshMode::Full {
            parts.push(format!("mode = {}", quote(self.mode.as_str())));
        }
        if let Some(column) = &self.time_column {
            parts.push(format!("time_column = {}", quote(column)));
        }
        if let Some(overlap) = &self.overlap {
            parts.push(format!("overlap = {}", quote(overlap.text())));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" WITH ({})", parts.join(", "))
        }
    }
}
