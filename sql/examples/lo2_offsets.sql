-- Which LO2 modules to replace? Modules ranked by their frequency-offset events.
select antenna, device, count(*) as offsets,
       round(avg(abs(frequency_offset_hz))) as mean_abs_offset_hz
from monitor.lo2_frequency_offsets
group by antenna, device
order by offsets desc, antenna, device
limit 10
