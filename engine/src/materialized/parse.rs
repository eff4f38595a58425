//! A small recognizer for the materialized-view statements, which the SQL
//! parser DataFusion uses (sqlparser 0.62) does not accept in full:
//!
//! ```sql
//! CREATE MATERIALIZED VIEW [IF NOT EXISTS] name
//!     [WITH (refresh = '1 hour', mode = 'full' | 'append',
//!            time_column = '...', overlap = '10 minutes')]
//!     AS query
//! REFRESH MATERIALIZED VIEW [CONCURRENTLY] name
//! DROP MATERIALIZED VIEW [IF EXISTS] name
//! ```
//!
//! Tokens come from sqlparser's own tokenizer with the PostgreSQL dialect, so
//! quoting, comments and keyword case follow PostgreSQL. The query after `AS`
//! is kept as its original text.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Word};

use crate::error::{EngineError, Result};
use crate::mv_definition::{DEFAULT_SCHEMA, MvName, MvOptions, TimeSpan};

/// A materialized-view statement recognized by [`parse_statement`].
#[derive(Debug, Clone, PartialEq)]
pub enum MvStatement {
    /// `CREATE MATERIALIZED VIEW`.
    Create {
        /// The view's name.
        name: MvName,
        /// `IF NOT EXISTS` was given: an existing view is not an error.
        if_not_exists: bool,
        /// The `WITH (...)` options.
        options: MvOptions,
        /// The text of the query after `AS`, as written.
        query: String,
    },
    /// `REFRESH MATERIALIZED VIEW`.
    Refresh {
        /// The view's name.
        name: MvName,
    },
    /// `DROP MATERIALIZED VIEW`.
    Drop {
        /// The view's name.
        name: MvName,
        /// `IF EXISTS` was given: a missing view is not an error.
        if_exists: bool,
    },
}

impl MvStatement {
    /// The PostgreSQL command tag of the statement, e.g.
    /// `REFRESH MATERIALIZED VIEW`.
    pub fn command_tag(&self) -> &'static str {
        match self {
            Self::Create { .. } => "CREATE MATERIALIZED VIEW",
            Self::Refresh { .. } => "REFRESH MATERIALIZED VIEW",
            Self::Drop { .. } => "DROP MATERIALIZED VIEW",
        }
    }
}

/// Whether `haystack` contains `needle` (ASCII), ignoring ASCII case.
fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Recognizes `CREATE MATERIALIZED VIEW`, `REFRESH MATERIALIZED VIEW` and
/// `DROP MATERIALIZED VIEW`; `None` for any other SQL (leave it to
/// DataFusion), `Some(Err(..))` for one of ours that is malformed.
pub fn parse_statement(sql: &str) -> Option<Result<MvStatement>> {
    // Each statement of ours says MATERIALIZED or REFRESH; most statements
    // say neither, and tokenizing all of them cost more than the SQL rewrite.
    if !contains_ignore_ascii_case(sql, "materialized")
        && !contains_ignore_ascii_case(sql, "refresh")
    {
        return None;
    }
    let dialect = PostgreSqlDialect {};
    // A text the tokenizer rejects is not one of ours to report on.
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .ok()?;
    let tokens: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .collect();
    let first = keyword(tokens.first()?)?;
    let second = tokens.get(1).and_then(|t| keyword(t));
    let ours = match first.as_str() {
        "REFRESH" => true,
        "CREATE" | "DROP" => second.as_deref() == Some("MATERIALIZED"),
        _ => false,
    };
    if !ours {
        return None;
    }
    let mut parser = Parser {
        sql,
        tokens: &tokens,
        pos: 0,
    };
    Some(
        parser
            .statement()
            .map_err(|message| EngineError::Syntax { message }),
    )
}

fn keyword(token: &TokenWithSpan) -> Option<String> {
    match &token.token {
        Token::Word(Word {
            value,
            quote_style: None,
            ..
        }) => Some(value.to_ascii_uppercase()),
        _ => None,
    }
}

struct Parser<'a> {
    sql: &'a str,
    tokens: &'a [&'a TokenWithSpan],
    pos: usize,
}

type ParseResult<T> = std::result::Result<T, String>;

impl Parser<'_> {
    fn statement(&mut self) -> ParseResult<MvStatement> {
        let verb = self.keyword_any()?;
        match verb.as_str() {
            "CREATE" => {
                self.expect_keywords(&["MATERIALIZED", "VIEW"])?;
                let if_not_exists = self.accept_keywords(&["IF", "NOT", "EXISTS"]);
                let name = self.name()?;
                let options = if self.accept_keywords(&["WITH"]) {
                    self.options()?
                } else {
                    MvOptions::default()
                };
                options
                    .validate()
                    .map_err(|(key, message)| format!("option `{key}` {message}"))?;
                self.expect_keywords(&["AS"])?;
                let query = self.rest()?;
                Ok(MvStatement::Create {
                    name,
                    if_not_exists,
                    options,
                    query,
                })
            }
            "REFRESH" => {
                self.expect_keywords(&["MATERIALIZED", "VIEW"])?;
                // Every refresh lets readers go on with the previous data, so
                // CONCURRENTLY changes nothing.
                self.accept_keywords(&["CONCURRENTLY"]);
                let name = self.name()?;
                self.end()?;
                Ok(MvStatement::Refresh { name })
            }
            "DROP" => {
                self.expect_keywords(&["MATERIALIZED", "VIEW"])?;
                let if_exists = self.accept_keywords(&["IF", "EXISTS"]);
                let name = self.name()?;
                self.end()?;
                Ok(MvStatement::Drop { name, if_exists })
            }
            other => Err(format!("unexpected `{other}`")),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.token)
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of input".to_string(),
            Some(token) => format!("`{token}`"),
        }
    }

    fn keyword_any(&mut self) -> ParseResult<String> {
        let word = self
            .tokens
            .get(self.pos)
            .and_then(|t| keyword(t))
            .ok_or_else(|| format!("expected a keyword, found {}", self.describe()))?;
        self.pos += 1;
        Ok(word)
    }

    fn accept_keywords(&mut self, words: &[&str]) -> bool {
        let matches = words.iter().enumerate().all(|(i, w)| {
            self.tokens
                .get(self.pos + i)
                .and_then(|t| keyword(t))
                .is_some_and(|k| k == *w)
        });
        if matches {
            self.pos += words.len();
        }
        matches
    }

    fn expect_keywords(&mut self, words: &[&str]) -> ParseResult<()> {
        for word in words {
            if !self.accept_keywords(&[word]) {
                return Err(format!("expected {word}, found {}", self.describe()));
            }
        }
        Ok(())
    }

    fn accept(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> ParseResult<String> {
        match self.peek() {
            Some(Token::Word(Word {
                value, quote_style, ..
            })) => {
                let ident = match quote_style {
                    Some('"') => value.clone(),
                    None => value.to_lowercase(),
                    Some(_) => {
                        return Err(format!("expected a name, found {}", self.describe()));
                    }
                };
                self.pos += 1;
                Ok(ident)
            }
            _ => Err(format!("expected a name, found {}", self.describe())),
        }
    }

    fn name(&mut self) -> ParseResult<MvName> {
        let first = self.ident()?;
        if self.accept(&Token::Period) {
            let second = self.ident()?;
            if self.peek() == Some(&Token::Period) {
                return Err(
                    "a materialized view name is `name` or `schema.name`, not a three-part name"
                        .to_string(),
                );
            }
            Ok(MvName::new(first, second))
        } else {
            Ok(MvName::new(DEFAULT_SCHEMA, first))
        }
    }

    fn options(&mut self) -> ParseResult<MvOptions> {
        if !self.accept(&Token::LParen) {
            return Err(format!("expected ( after WITH, found {}", self.describe()));
        }
        let mut options = MvOptions::default();
        let mut seen = vec![];
        loop {
            let key = self.ident()?;
            if seen.contains(&key) {
                return Err(format!("option `{key}` is given twice"));
            }
            if !self.accept(&Token::Eq) {
                return Err(format!(
                    "expected = after option `{key}`, found {}",
                    self.describe()
                ));
            }
            let value = self.option_value(&key)?;
            let bad = |message: String| format!("option `{key}`: {message}");
            match key.as_str() {
                "refresh" => options.refresh = Some(TimeSpan::parse(&value).map_err(bad)?),
                "mode" => options.mode = value.parse().map_err(bad)?,
                "time_column" => options.time_column = Some(value),
                "overlap" => options.overlap = Some(TimeSpan::parse(&value).map_err(bad)?),
                _ => {
                    return Err(format!(
                        "unknown option `{key}` (expected refresh, mode, time_column or overlap)"
                    ));
                }
            }
            seen.push(key);
            if self.accept(&Token::RParen) {
                return Ok(options);
            }
            if !self.accept(&Token::Comma) {
                return Err(format!(
                    "expected , or ) in WITH (...), found {}",
                    self.describe()
                ));
            }
        }
    }

    fn option_value(&mut self, key: &str) -> ParseResult<String> {
        let value = match self.peek() {
            Some(Token::SingleQuotedString(s)) => s.clone(),
            Some(Token::Number(n, _)) => n.clone(),
            Some(Token::Word(w)) if w.quote_style.is_none() => w.value.clone(),
            _ => {
                return Err(format!(
                    "option `{key}` needs a value such as '1 hour', found {}",
                    self.describe()
                ));
            }
        };
        self.pos += 1;
        Ok(value)
    }

    /// The source text from the current token to the end, without a
    /// trailing semicolon.
    fn rest(&mut self) -> ParseResult<String> {
        let mut end = self.tokens.len();
        if end > self.pos && self.tokens[end - 1].token == Token::SemiColon {
            end -= 1;
        }
        if self.tokens[self.pos..end]
            .iter()
            .any(|t| t.token == Token::SemiColon)
        {
            return Err("only one statement is allowed".to_string());
        }
        if self.pos >= end {
            return Err("expected a query after AS".to_string());
        }
        let start = offset(self.sql, self.tokens[self.pos]);
        let stop = if end < self.tokens.len() {
            offset(self.sql, self.tokens[end])
        } else {
            self.sql.len()
        };
        self.pos = self.tokens.len();
        Ok(self.sql[start..stop].trim_end().to_string())
    }

    fn end(&mut self) -> ParseResult<()> {
        self.accept(&Token::SemiColon);
        if self.pos < self.tokens.len() {
            return Err(format!("unexpected {} at the end", self.describe()));
        }
        Ok(())
    }
}

/// The byte offset in `sql` where `token` starts (the tokenizer counts
/// lines and characters from 1).
fn offset(sql: &str, token: &TokenWithSpan) -> usize {
    let (line, column) = (token.span.start.line, token.span.start.column);
    let mut line_start = 0;
    for _ in 1..line {
        match sql[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return sql.len(),
        }
    }
    sql[line_start..]
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(sql.len(), |(i, _)| line_start + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mv_definition::RefreshMode;
    use std::time::Duration;

    fn parse(sql: &str) -> MvStatement {
        parse_statement(sql).expect("ours").expect("valid")
    }

    fn error(sql: &str) -> String {
        parse_statement(sql)
            .expect("ours")
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn create_with_options_keeps_the_query_text() {
        let sql = "-- hourly\ncreate Materialized VIEW IF NOT EXISTS ops.\"Daily Stats\"\n  WITH (refresh = '1 hour', mode = append, time_column = 'time', overlap = '10 minutes')\n  AS /* q */ SELECT \"A\", 'x;y' FROM t  -- done\n ;  ";
        let MvStatement::Create {
            name,
            if_not_exists,
            options,
            query,
        } = parse(sql)
        else {
            panic!("not a create")
        };
        assert_eq!(name, MvName::new("ops", "Daily Stats"));
        assert!(if_not_exists);
        assert_eq!(
            options.refresh.unwrap().duration(),
            Duration::from_secs(3600)
        );
        assert_eq!(options.mode, RefreshMode::Append);
        assert_eq!(options.time_column.as_deref(), Some("time"));
        assert_eq!(
            options.overlap.unwrap().duration(),
            Duration::from_secs(600)
        );
        assert_eq!(query, "SELECT \"A\", 'x;y' FROM t  -- done");
    }

    #[test]
    fn multibyte_text_before_the_query_is_handled() {
        let MvStatement::Create { name, query, .. } =
            parse("create materialized view \"é\u{1F600}\" as select 'ü' as x")
        else {
            panic!("not a create")
        };
        assert_eq!(name, MvName::new("public", "é\u{1F600}"));
        assert_eq!(query, "select 'ü' as x");
    }

    #[test]
    fn refresh_and_drop() {
        assert_eq!(
            parse("REFRESH MATERIALIZED VIEW Stats;"),
            MvStatement::Refresh {
                name: MvName::new("public", "stats")
            }
        );
        assert_eq!(
            parse("refresh materialized view concurrently s.\"V\""),
            MvStatement::Refresh {
                name: MvName::new("s", "V")
            }
        );
        assert_eq!(
            parse("/* x */ drop materialized view if exists a.b"),
            MvStatement::Drop {
                name: MvName::new("a", "b"),
                if_exists: true
            }
        );
        assert_eq!(
            parse("drop materialized view b").command_tag(),
            "DROP MATERIALIZED VIEW"
        );
    }

    #[test]
    fn other_sql_is_not_ours() {
        for sql in [
            "select 1",
            "create view v as select 1",
            "drop view v",
            "drop table materialized",
            "create table t (a int)",
            "",
            "   -- only a comment",
            "'unterminated",
        ] {
            assert!(parse_statement(sql).is_none(), "{sql}");
        }
    }

    #[test]
    fn malformed_statements_are_clear_errors() {
        let e = error("create materialized view v with (refesh = '1 hour') as select 1");
        assert!(e.contains("unknown option `refesh`"), "{e}");
        let e = error("create materialized view v with (refresh = 'soon') as select 1");
        assert!(e.contains("option `refresh`") && e.contains("soon"), "{e}");
        let e = error("create materialized view v with (mode = 'sideways') as select 1");
        assert!(e.contains("option `mode`"), "{e}");
        let e = error("create materialized view v with (mode = 'append') as select 1");
        assert!(e.contains("time_column"), "{e}");
        let e = error("create materialized view v as");
        assert!(e.contains("query after AS"), "{e}");
        let e = error("create materialized view v select 1");
        assert!(e.contains("expected AS"), "{e}");
        let e = error("refresh materialized view");
        assert!(e.contains("expected a name"), "{e}");
        let e = error("refresh table t");
        assert!(e.contains("expected MATERIALIZED"), "{e}");
        let e = error("drop materialized view a.b.c");
        assert!(e.contains("three-part"), "{e}");
        let e = error("create materialized view v as select 1; select 2");
        assert!(e.contains("one statement"), "{e}");
    }

    #[test]
    fn time_spans() {
        let secs = |s: &str| TimeSpan::parse(s).unwrap().duration().as_secs_f64();
        assert_eq!(secs("1 hour"), 3600.0);
        assert_eq!(secs("10 minutes"), 600.0);
        assert_eq!(secs("1h30m"), 5400.0);
        assert_eq!(secs("1.5 days"), 129600.0);
        assert_eq!(secs("200 ms"), 0.2);
        assert_eq!(TimeSpan::parse("  2   hours ").unwrap().text(), "2 hours");
        assert!(TimeSpan::parse("hour").is_err());
        assert!(TimeSpan::parse("3").is_err());
        assert!(TimeSpan::parse("3 fortnights").is_err());
    }

    #[test]
    fn names_display_quoted_when_needed() {
        assert_eq!(MvName::new("public", "a_1").to_string(), "public.a_1");
        assert_eq!(MvName::new("Ops", "x\"y").to_string(), "\"Ops\".\"x\"\"y\"");
    }
}

/// Splits a query text into its statements at top-level semicolons (the
/// tokenizer keeps semicolons inside strings, quoted names and comments),
/// each without its semicolon; blank statements are dropped. A text the
/// tokenizer rejects is returned whole.
pub fn split_statements(sql: &str) -> Vec<String> {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return vec![sql.to_string()];
    };
    let mut statements = vec![];
    let mut current = String::new();
    for token in tokens {
        match token {
            Token::SemiColon => statements.push(std::mem::take(&mut current)),
            Token::EOF => {}
            other => current.push_str(&other.to_string()),
        }
    }
    statements.push(current);
    statements.retain(|s| !s.trim().is_empty());
    statements
}

#[cfg(test)]
mod split_tests {
    use super::split_statements;

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let parts = split_statements(
            "create view v as select ';' as x; -- a comment; still a comment\n\
             refresh materialized view \"a;b\";;  select 1",
        );
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert_eq!(parts[0], "create view v as select ';' as x");
        assert!(
            parts[1].contains("refresh materialized view \"a;b\""),
            "{parts:?}"
        );
        assert_eq!(parts[2].trim(), "select 1");
    }
}
