-- The stored browsing partitions up to the logical date into stg_browsing (see load_browsing).
insert into stg_browsing
select *
from read_parquet($files, hive_partitioning = false)
where event_time < $cutoff;
