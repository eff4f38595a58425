-- IF-processor degradation: per antenna × polarization × baseband, the drift
-- of the total-power detector reading (volts per day), its robust z-score
-- against all other channels, and when the drift began (change point).
-- Largest |z| first.
with channels as (
    select antenna, polarization, baseband,
           drift_slope(value, time) as volts_per_day,
           changepoint_time(value, time) as drift_began,
           count(*) as samples
    from monitor.samples
    where monitor_point = 'TOTAL_POWER'
    group by antenna, polarization, baseband
)
select antenna, polarization, baseband, volts_per_day,
       robust_zscore(volts_per_day) over () as zscore,
       drift_began, samples
from channels
order by abs(robust_zscore(volts_per_day) over ()) desc, antenna, polarization, baseband
