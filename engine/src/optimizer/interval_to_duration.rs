//! `timestamp ± interval` as `timestamp ± duration`, where the two agree.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator};

use super::is_utc;

const NANOS_PER_DAY: i128 = 86_400_000_000_000;

/// Rewrites `ts + interval`, `ts - interval` and `interval + ts`, for a
/// literal interval without months, to the same arithmetic with a duration
/// literal in the timestamp's unit, when both mean the same instant:
///
/// - an interval of hours, minutes, seconds: always (elapsed time);
/// - an interval with days: only for a timestamp in UTC or without a zone,
///   where every day has 86 400 s. In `America/Santiago`, `- interval
///   '1 day'` across the September clock change is 23 hours, and such an
///   expression is left as it is.
///
/// Arrow adds a month-day-nano interval to each element of a zoned
/// timestamp column through the calendar; a duration is one vectorised
/// addition. Over 3 M samples `time - interval '1 day'` took 640 ms and
/// `time - <duration>` 29 ms, which is what made the dashboards' join of
/// samples with JIRA tickets by time window slow:
///
/// ```sql
/// -- time is Timestamp(µs, "UTC"): the filter becomes
/// -- time >= created - DurationMicrosecond(86400000000)
/// select count(*) from monitor.samples s join jira.issues i on s.antenna = i.antenna
/// where s.time >= i.created - interval '1 day' and s.time < i.created
/// ```
///
/// `expr` is one node of a type-coerced plan's expression; `schema` holds
/// the columns it can refer to.
pub fn interval_to_duration(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let (timestamp, interval) = match op {
        Operator::Minus => (left, right),
        Operator::Plus if interval_parts(left).is_some() => (right, left),
        Operator::Plus => (left, right),
        _ => return Ok(Transformed::no(expr)),
    };
    let Some((months, days, nanos)) = interval_parts(interval) else {
        return Ok(Transformed::no(expr));
    };
    // a type that cannot be resolved here is left to the planner to report
    let Ok(DataType::Timestamp(unit, zone)) = timestamp.get_type(schema) else {
        return Ok(Transformed::no(expr));
    };
    let days_are_86400_s = zone.as_deref().is_none_or(is_utc);
    if months != 0 || (days != 0 && !days_are_86400_s) {
        return Ok(Transformed::no(expr));
    }
    let total = i128::from(days) * NANOS_PER_DAY + i128::from(nanos);
    let Some(duration) = duration_literal(total, unit) else {
        return Ok(Transformed::no(expr));
    };
    Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
        timestamp.clone(),
        *op,
        Box::new(Expr::Literal(duration, None)),
    ))))
}

/// (months, days, nanoseconds) of a non-null interval literal.
fn interval_parts(expr: &Expr) -> Option<(i32, i32, i64)> {
    match expr {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) => {
            Some((v.months, v.days, v.nanoseconds))
        }
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => {
            Some((0, v.days, i64::from(v.milliseconds) * 1_000_000))
        }
        Expr::Literal(ScalarValue::IntervalYearMonth(Some(months)), _) => Some((*months, 0, 0)),
        _ => None,
    }
}

/// `nanos` as a duration literal in `unit`, if exact and in range.
fn duration_literal(nanos: i128, unit: TimeUnit) -> Option<ScalarValue> {
    let per = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    if nanos % per != 0 {
        return None;
    }
    let v = Some(i64::try_from(nanos / per).ok()?);
    Some(match unit {
        TimeUnit::Second => ScalarValue::DurationSecond(v),
        TimeUnit::Millisecond => ScalarValue::DurationMillisecond(v),
        TimeUnit::Microsecond => ScalarValue::DurationMicrosecond(v),
        TimeUnit::Nanosecond => ScalarValue::DurationNanosecond(v),
    })
}

#[cfg(test)]
mod tests {
    use crate::optimizer::test_support::{context, optimized_plan, run};

    /// The same results (values and column names) with and without the
    /// rewrite, and the rewrite happens exactly where it is exact.
    #[tokio::test]
    async fn rewrites_only_where_the_instant_is_the_same() {
        let (plain, rewritten) = (context(false), context(true));
        // (expression, rewritten to a duration?)
        let cases = [
            ("utc - interval '1 day'", true),
            ("utc + interval '1 day 2 hours 3.5 seconds'", true),
            ("interval '36 hours' + utc", true),
            ("naive - interval '2 days'", true),
            ("chile - interval '90 minutes'", true),
            ("chile - interval '1 day'", false),
            ("chile + interval '1 day 1 hour'", false),
            ("utc - interval '1 month'", false),
            ("utc - interval '1 year 2 days'", false),
        ];
        for (expr, expect_duration) in cases {
            let sql = format!("select {expr} from t");
            assert_eq!(
                run(&plain, &sql).await,
                run(&rewritten, &sql).await,
                "{expr}"
            );
            let plan = optimized_plan(&rewritten, &sql).await;
            assert_eq!(plan.contains("Duration"), expect_duration, "{expr}: {plan}");
        }
        // across the clock change a calendar day in Santiago is 23 hours
        let day_before = run(
            &rewritten,
            "select chile - interval '1 day' as d from t limit 1",
        )
        .await;
        // 13:00 local the day before, under UTC-4: 23 hours earlier
        assert!(
            day_before.contains("2026-09-05T13:00:00-04:00"),
            "{day_before}"
        );
    }

    /// Types are read after coercion: a CASE of a zone-less and a Santiago
    /// timestamp is a Santiago timestamp, whose days are left alone; and an
    /// interval under ROLLUP keeps the query valid.
    #[tokio::test]
    async fn coerced_types_and_grouping_sets() {
        let (plain, rewritten) = (context(false), context(true));
        let sql = "select (case when naive is not null then naive else chile end) - interval '1 day' from t";
        assert_eq!(run(&plain, sql).await, run(&rewritten, sql).await);
        let plan = optimized_plan(&rewritten, sql).await;
        assert!(!plan.contains("Duration"), "{plan}");
        let sql = "select utc - interval '1 day' as d, count(*) as n from t \
                   group by rollup(utc - interval '1 day') order by d nulls first";
        assert_eq!(run(&plain, sql).await, run(&rewritten, sql).await);
    }

    /// A join filter (the JIRA window query's shape) is rewritten too.
    #[tokio::test]
    async fn join_filters_are_rewritten() {
        let ctx = context(true);
        let sql = "select count(*) from t a join t b on a.naive = b.naive \
                   where a.utc >= b.utc - interval '1 day' and a.utc < b.utc + interval '1 second'";
        assert_eq!(run(&context(false), sql).await, run(&ctx, sql).await);
        let plan = optimized_plan(&ctx, sql).await;
        assert!(plan.contains("DurationMicrosecond"), "{plan}");
        assert!(!plan.contains("IntervalMonthDayNano"), "{plan}");
    }
}
