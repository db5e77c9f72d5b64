-- stg_browsing as browsing_view.sql makes it, less the rows pending an erasure's compaction
-- ($pending: their event_id and event_time; an event id names one event, repeated only as a
-- duplicate of it): the staged partitions still hold them until the compaction rewrites them.
set variable stg_browsing_files = $files;

set variable stg_browsing_cutoff = $cutoff;

set variable stg_browsing_pending = $pending;

create or replace temp view stg_browsing as
select b.*
from read_parquet(getvariable('stg_browsing_files'), hive_partitioning = false) as b
anti join read_parquet(getvariable('stg_browsing_pending'), hive_partitioning = false) as p
    on p.event_id = b.event_id and p.event_time = b.event_time
where b.event_time < getvariable('stg_browsing_cutoff');
