-- IF-processor degradation: per antenna × polarization × baseband, the drift
-- of the total-power detector reading (volts per day), its robust z-score
-- against all other channels, when the drift began (change point), and the
-- open JIRA tickets (not in status category Done) naming the antenna.
-- Largest |z| first.
with channels as (
    select antenna, polarization, baseband,
           drift_slope(value, time) as volts_per_day,
           changepoint_time(value, time) as drift_began,
           count(*) as samples
    from monitor.samples
    where monitor_point = 'TOTAL_POWER'
    group by antenna, polarization, baseband
),
scored as (
    select antenna, polarization, baseband, volts_per_day,
           robust_zscore(volts_per_day) over () as zscore,
           drift_began, samples
    from channels
),
open_tickets as (
    select antenna, string_agg(key, ', ' order by key) as tickets
    from jira.issues
    where antenna is not null and status_category <> 'Done'
    group by antenna
)
select s.antenna, s.polarization, s.baseband, s.volts_per_day, s.zscore, s.drift_began,
       t.tickets is not null as open_ticket, t.tickets, s.samples
from scored s
left join open_tickets t on t.antenna = s.antenna
order by abs(s.zscore) desc, s.antenna, s.polarization, s.baseband
