-- Grid monitoring of the calibrator survey: per source, days since its last
-- observation in Band 3 and in Band 7, counted from the catalog's latest
-- measurement (`as_of`); most urgent first (the larger of the two gaps; a
-- band the source was never observed in has no gap and does not count).
with last_seen as (
    select source,
           max(case when band = 3 then observed_at end) as last_band3,
           max(case when band = 7 then observed_at end) as last_band7
    from calibrators.measurements
    group by source
),
as_of as (
    select max(observed_at) as as_of from calibrators.measurements
),
gaps as (
    select l.source, s.ra_deg, s.dec_deg, l.last_band3, l.last_band7, a.as_of,
           round((extract(epoch from a.as_of) - extract(epoch from l.last_band3)) / 86400.0, 1)
               as days_since_band3,
           round((extract(epoch from a.as_of) - extract(epoch from l.last_band7)) / 86400.0, 1)
               as days_since_band7
    from last_seen l
    join calibrators.sources s on s.source = l.source
    cross join as_of a
)
select source, ra_deg, dec_deg,
       last_band3, days_since_band3,
       last_band7, days_since_band7,
       greatest(coalesce(days_since_band3, 0), coalesce(days_since_band7, 0)) as urgency_days,
       as_of
from gaps
order by urgency_days desc, source
