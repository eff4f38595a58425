-- Observing time per executive (region of the PI: EU, NA, EA, CL, OTHER) and
-- month: executed hours and the executive's share of the month, in percent.
with per_month as (
    select date_trunc('month', e.start_time) as month,
           p.executive,
           sum(extract(epoch from e.end_time) - extract(epoch from e.start_time)) / 3600.0 as hours
    from ops.executions e
    join ops.projects p on p.code = e.project
    group by 1, 2
)
select month, executive, round(hours, 2) as hours,
       round(100 * hours / sum(hours) over (partition by month), 1) as share_percent
from per_month
order by month, hours desc, executive
