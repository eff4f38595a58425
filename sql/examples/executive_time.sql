-- How much observing time did each executive (region) get?
select executive,
       round(hours, 1) as hours,
       round(100 * hours / sum(hours) over (), 1) as percent
from (
    select p.executive,
           sum(extract(epoch from e.end_time) - extract(epoch from e.start_time)) / 3600.0 as hours
    from ops.executions e
    join ops.projects p on p.code = e.project
    group by p.executive
) as per_executive
order by hours desc
