-- Photonic reference failures (LORR lock losses in the ACS logs), as a rate
-- per 1000 antenna-hours with its exact 95 % Poisson interval, by factor:
-- antenna, ambient temperature (5 °C bands, from the weather station's
-- monitor samples at the minute of each failure) and hour of day (UTC).
with weather as (
    select time, value as ambient_c
    from monitor.samples
    where device = 'MeteoCentral' and monitor_point = 'AMBIENT_TEMPERATURE'
),
antenna_count as (
    select count(*) as n from ops.antennas
),
failures as (
    select l.antenna, w.ambient_c, extract(hour from l.time) as hour_utc
    from logs.acs l
    join weather w on w.time = date_trunc('minute', l.time)
    where l.level = 'Error' and l.routine = 'LORRImpl::monitorLock'
),
site_hours as (
    select count(*) / 60.0 as hours from weather
),
by_antenna as (
    select 'antenna' as factor, a.antenna as level,
           count(f.antenna) as failures,
           max(s.hours) as exposure_hours
    from ops.antennas a
    left join failures f on f.antenna = a.antenna
    cross join site_hours s
    group by a.antenna
),
by_temperature as (
    select 'ambient_temperature' as factor,
           concat(cast(t.lo as int), ' to ', cast(t.lo + 5 as int), ' degC') as level,
           coalesce(max(f.n), 0) as failures,
           t.minutes / 60.0 * max(c.n) as exposure_hours
    from (select floor(ambient_c / 5) * 5 as lo, count(*) as minutes from weather group by 1) t
    left join (select floor(ambient_c / 5) * 5 as lo, count(*) as n from failures group by 1) f
        on f.lo = t.lo
    cross join antenna_count c
    group by t.lo, t.minutes
),
by_hour as (
    select 'hour_utc' as factor,
           lpad(cast(cast(h.hour_utc as int) as varchar), 2, '0') as level,
           coalesce(max(f.n), 0) as failures,
           h.minutes / 60.0 * max(c.n) as exposure_hours
    from (select extract(hour from time) as hour_utc, count(*) as minutes from weather group by 1) h
    left join (select hour_utc, count(*) as n from failures group by 1) f
        on f.hour_utc = h.hour_utc
    cross join antenna_count c
    group by h.hour_utc, h.minutes
),
rates as (
    select factor, level, failures, exposure_hours,
           poisson_rate_ci(failures, exposure_hours / 1000.0) as ci
    from (select * from by_antenna union all select * from by_temperature union all select * from by_hour)
    where exposure_hours > 0
)
select factor, level, failures, round(exposure_hours, 1) as exposure_hours,
       ci['rate'] as rate_per_1000h, ci['lower'] as lower_per_1000h, ci['upper'] as upper_per_1000h
from rates
order by factor, rate_per_1000h desc, level
