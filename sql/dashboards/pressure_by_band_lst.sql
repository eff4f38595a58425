-- Pressure by receiver band and LST (2-hour bins), per array: requested hours
-- of the projects, each spread over the LST range where its target is within
-- 3 h of transit (LST = RA ± 3 h), against the hours each bin is available
-- in the cycle (cycle days × sidereal days per solar day × bin width).
-- `pressure` > 1 means oversubscribed. Filter on `array` for a configuration.
with cycle as (
    select (extract(epoch from max(end_time)) - extract(epoch from min(start_time))) / 86400.0
               * 1.0027379093 as sidereal_days
    from ops.executions
),
requested as (
    select p.array, p.band, b.bin, b.lst_start, b.lst_end,
           sum(p.requested_hours
               * lst_overlap_hours(p.ra_deg / 15.0 - 3.0, p.ra_deg / 15.0 + 3.0, b.lst_start, b.lst_end)
               / 6.0) as requested_hours
    from ops.projects p
    cross join lst_bins(2) b
    group by p.array, p.band, b.bin, b.lst_start, b.lst_end
)
select r.array, r.band, r.lst_start, r.lst_end,
       round(r.requested_hours, 2) as requested_hours,
       round(c.sidereal_days * (r.lst_end - r.lst_start), 2) as available_hours,
       round(r.requested_hours / (c.sidereal_days * (r.lst_end - r.lst_start)), 3) as pressure
from requested r cross join cycle c
order by r.array, r.band, r.lst_start
