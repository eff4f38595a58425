-- Which calibrators have not been observed in Bands 3 and 7 for too long?
-- Days since each source's last measurement per band, counted from the end
-- of the survey (use now() on live data).
with last_seen as (
    select source, band, max(observed_at) as last_observed
    from calibrators.measurements
    where band in (3, 7)
    group by source, band
),
survey as (
    select max(observed_at) as survey_end from calibrators.measurements
)
select l.source, l.band, l.last_observed,
       round((extract(epoch from s.survey_end) - extract(epoch from l.last_observed)) / 86400.0, 1)
           as days_since
from last_seen l cross join survey s
where extract(epoch from s.survey_end) - extract(epoch from l.last_observed) > 14 * 86400
order by days_since desc, source, band
