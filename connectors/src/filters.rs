//! Reading the filters DataFusion offers a scan: equality and `IN` on text
//! columns, and ranges on a timestamp column. What a connector can apply
//! exactly it declares `Exact`; everything else stays with DataFusion.

use std::collections::BTreeMap;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

/// A half-open time range in microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start.
    pub from_us: Option<i64>,
    /// Exclusive end.
    pub to_us: Option<i64>,
}

impl Default for TimeRange {
    fn default() -> Self {
        Self::ALL
    }
}

impl TimeRange {
    /// The unbounded range.
    pub const ALL: Self = Self {
        from_us: None,
        to_us: None,
    };

    /// True when the range is bounded on either side.
    pub fn is_bounded(&self) -> bool {
        self.from_us.is_some() || self.to_us.is_some()
    }

    /// True when `[start, end)` overlaps the range.
    pub fn overlaps(&self, start_us: i64, end_us: i64) -> bool {
        self.from_us.is_none_or(|f| end_us > f) && self.to_us.is_none_or(|t| start_us < t)
    }

    /// True when `t` lies in the range.
    pub fn contains(&self, t: i64) -> bool {
        self.from_us.is_none_or(|f| t >= f) && self.to_us.is_none_or(|e| t < e)
    }

    fn narrow_from(&mut self, from: i64) {
        self.from_us = Some(self.from_us.map_or(from, |f| f.max(from)));
    }

    fn narrow_to(&mut self, to: i64) {
        self.to_us = Some(self.to_us.map_or(to, |t| t.min(to)));
    }
}

/// The filters a connector applies itself, read from DataFusion's filters.
#[derive(Debug, Clone, Default)]
pub struct PushedFilters {
    /// Time range on the time column.
    pub time: TimeRange,
    /// Allowed values per text column (equality and `IN`); several filters
    /// on one column intersect.
    pub values: BTreeMap<String, Vec<String>>,
}

impl PushedFilters {
    /// Reads every filter this connector can apply exactly, given the name
    /// of its time column and its text columns that accept equality.
    pub fn from_exprs<'a>(
        filters: impl IntoIterator<Item = &'a Expr>,
        time_column: &str,
        text_columns: &[&str],
    ) -> Self {
        let mut pushed = Self::default();
        for filter in filters {
            pushed.add(filter, time_column, text_columns);
        }
        pushed
    }

    /// True when this connector can apply `filter` exactly.
    pub fn supports(filter: &Expr, time_column: &str, text_columns: &[&str]) -> bool {
        Self::default().add(filter, time_column, text_columns)
    }

    /// The allowed values of `column`, if it is filtered.
    pub fn allowed(&self, column: &str) -> Option<&[String]> {
        self.values.get(column).map(Vec::as_slice)
    }

    /// Applies one filter; returns false (and changes nothing) when it is
    /// not one this connector handles.
    fn add(&mut self, filter: &Expr, time_column: &str, text_columns: &[&str]) -> bool {
        match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) if *op == Operator::And => {
                let mut trial = self.clone();
                let ok = trial.add(left, time_column, text_columns)
                    && trial.add(right, time_column, text_columns);
                if ok {
                    *self = trial;
                }
                ok
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (column, op, value) = match (column_name(left), column_name(right)) {
                    (Some(c), None) => (c, *op, right.as_ref()),
                    (None, Some(c)) => match op.swap() {
                        Some(swapped) => (c, swapped, left.as_ref()),
                        None => return false,
                    },
                    _ => return false,
                };
                if column == time_column {
                    let Some(t) = timestamp_us(value) else {
                        return false;
                    };
                    match op {
                        Operator::Eq => {
                            self.time.narrow_from(t);
                            self.time.narrow_to(t.saturating_add(1));
                        }
                        Operator::Gt => self.time.narrow_from(t.saturating_add(1)),
                        Operator::GtEq => self.time.narrow_from(t),
                        Operator::Lt => self.time.narrow_to(t),
                        Operator::LtEq => self.time.narrow_to(t.saturating_add(1)),
                        _ => return false,
                    }
                    true
                } else if text_columns.contains(&column) && op == Operator::Eq {
                    match text(value) {
                        Some(v) => {
                            self.restrict(column, vec![v]);
                            true
                        }
                        None => false,
                    }
                } else {
                    false
                }
            }
            Expr::InList(list) if !list.negated => {
                let Some(column) = column_name(&list.expr) else {
                    return false;
                };
                if !text_columns.contains(&column) {
                    return false;
                }
                let values: Option<Vec<String>> = list.list.iter().map(text).collect();
                match values {
                    Some(v) => {
                        self.restrict(column, v);
                        true
                    }
                    None => false,
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) => {
                if column_name(expr) != Some(time_column) {
                    return false;
                }
                match (timestamp_us(low), timestamp_us(high)) {
                    (Some(lo), Some(hi)) => {
                        self.time.narrow_from(lo);
                        self.time.narrow_to(hi.saturating_add(1));
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }

    fn restrict(&mut self, column: &str, values: Vec<String>) {
        match self.values.get_mut(column) {
            Some(existing) => existing.retain(|v| values.contains(v)),
            None => {
                self.values.insert(column.to_string(), values);
            }
        }
    }
}

/// The column an expression names, looking through casts between
/// timestamp and text types the planner inserts.
fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(c) => Some(c.name.as_str()),
        Expr::Cast(cast) if cast.field.data_type().is_temporal() => column_name(&cast.expr),
        _ => None,
    }
}

/// A non-null text literal.
fn text(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(ScalarValue::Utf8(Some(s)), _)
        | Expr::Literal(ScalarValue::Utf8View(Some(s)), _)
        | Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _) => Some(s.clone()),
        _ => None,
    }
}

/// A non-null timestamp literal in microseconds (any unit; a timestamp
/// without a zone is read as UTC).
fn timestamp_us(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Literal(value, _) => match value {
            ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000),
            ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000),
            ScalarValue::TimestampMicrosecond(Some(v), _) => Some(*v),
            ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
            _ => None,
        },
        Expr::Cast(cast) => timestamp_us(&cast.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn ts(us: i64) -> Expr {
        lit(ScalarValue::TimestampMicrosecond(
            Some(us),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn reads_ranges_equalities_and_lists() {
        let filters = [
            col("time").gt_eq(ts(100)),
            ts(200).gt(col("time")),
            col("host").eq(lit("gas01")),
            col("level").in_list(vec![lit("Error"), lit("Critical")], false),
            col("level").eq(lit("Error")),
        ];
        let pushed = PushedFilters::from_exprs(&filters, "time", &["host", "level"]);
        assert_eq!(
            pushed.time,
            TimeRange {
                from_us: Some(100),
                to_us: Some(200)
            }
        );
        assert_eq!(pushed.allowed("host"), Some(&["gas01".to_string()][..]));
        assert_eq!(pushed.allowed("level"), Some(&["Error".to_string()][..]));
        assert!(pushed.allowed("antenna").is_none());
    }

    #[test]
    fn refuses_what_it_cannot_apply() {
        let time = "time";
        let cols = &["host"][..];
        assert!(!PushedFilters::supports(
            &col("host").not_eq(lit("a")),
            time,
            cols
        ));
        assert!(!PushedFilters::supports(
            &col("message").eq(lit("a")),
            time,
            cols
        ));
        assert!(!PushedFilters::supports(
            &col("host").eq(col("process")),
            time,
            cols
        ));
        assert!(!PushedFilters::supports(
            &col("host").eq(lit("a")).or(col("host").eq(lit("b"))),
            time,
            cols
        ));
        assert!(!PushedFilters::supports(
            &col("host").in_list(vec![lit("a")], true),
            time,
            cols
        ));
        assert!(PushedFilters::supports(
            &col("time").between(ts(1), ts(5)),
            time,
            cols
        ));
        let between = PushedFilters::from_exprs([&col("time").between(ts(1), ts(5))], time, cols);
        assert_eq!(between.time.to_us, Some(6));
    }

    #[test]
    fn ranges_overlap_half_open_intervals() {
        let r = TimeRange {
            from_us: Some(10),
            to_us: Some(20),
        };
        assert!(r.overlaps(0, 11));
        assert!(!r.overlaps(0, 10));
        assert!(r.overlaps(19, 30));
        assert!(!r.overlaps(20, 30));
        assert!(r.contains(10) && !r.contains(20));
    }
}
