-- stg_browsing as of the logical date: every stored partition up to it, cut at the end
-- of the day like the other staging tables.
create or replace table stg_browsing as
select * exclude (_partition_date)
from stg_browsing_changed
where false;

insert into stg_browsing
select *
from read_parquet($files, hive_partitioning = false)
where event_time < $cutoff;

drop table stg_browsing_changed;
