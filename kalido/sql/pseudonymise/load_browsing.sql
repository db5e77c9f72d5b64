-- stg_browsing as of the logical date: every stored partition up to it,
-- cut at the end of the day like the other staging tables. Made empty here, then filled by
-- append_browsing.sql when there is any partition (read_parquet needs at least one file).
create or replace table stg_browsing as
select * exclude (_partition_date)
from stg_browsing_changed
where false;

drop table stg_browsing_changed;
