-- LO2 modules to replace: frequency-offset events per antenna and baseband
-- pair, ranked (ties share a priority); the first 5 rows are the replacement
-- priorities (`replace_now`). `analysis_date` is the day of the latest event
-- analysed.
with per_module as (
    select antenna, baseband_pair, device,
           count(*) as offset_count,
           round(avg(abs(frequency_offset_hz))) as mean_abs_offset_hz
    from monitor.lo2_frequency_offsets
    group by antenna, baseband_pair, device
),
analysed as (
    select cast(max(time) as date) as analysis_date from monitor.lo2_frequency_offsets
)
select cast(rank() over (order by offset_count desc) as int) as priority,
       antenna, baseband_pair, device, offset_count, mean_abs_offset_hz,
       a.analysis_date,
       row_number() over (order by offset_count desc, antenna, baseband_pair) <= 5 as replace_now
from per_module cross join analysed a
order by priority, antenna, baseband_pair
