-- {view} as browsing_view.sql makes it, less the rows pending an erasure's compaction
-- ($pending: their event_id and event_time; an event id names one event, repeated only as a
-- duplicate of it): the staged partitions still hold them until the compaction rewrites them.
set variable {view}_files = $files;

set variable {view}_cutoff = $cutoff;

set variable {view}_pending = $pending;

create or replace temp view {view} as
select b.*
from read_parquet(getvariable('{view}_files'), hive_partitioning = false) as b
anti join read_parquet(getvariable('{view}_pending'), hive_partitioning = false) as p
    on p.event_id = b.event_id and p.event_time = b.event_time
where b.event_time < getvariable('{view}_cutoff');
