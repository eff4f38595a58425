-- How oversubscribed is each receiver band by LST? Requested hours per band
-- in 4-hour LST bins (a target transits at LST = RA).
select band,
       cast(floor(ra_deg / 60.0) * 4 as int) as lst_start_h,
       round(sum(requested_hours), 1) as requested_hours,
       count(*) as projects
from ops.projects
group by 1, 2
order by band, lst_start_h
