-- Which antenna's IF amplifier is degrading? The drift of each total-power
-- detector channel (antenna × polarization × baseband), in volts per day,
-- largest first.
select antenna, polarization, baseband, volts_per_day
from (
    select antenna, polarization, baseband,
           regr_slope(value, extract(epoch from time) / 86400.0) as volts_per_day
    from monitor.samples
    where monitor_point = 'TOTAL_POWER'
    group by antenna, polarization, baseband
) as channels
order by abs(volts_per_day) desc
limit 10
