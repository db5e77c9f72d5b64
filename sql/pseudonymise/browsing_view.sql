-- {view} as of the logical date, for the stage that opened this connection: a view over some
-- stored Parquet partitions ($files; stg_browsing: every one up to that date), cut at the end of
-- the day like the other staging tables. A view, not a table: a night copies no browsing history
-- into the work database. (A view takes no parameters; session variables carry them, one set
-- per view.)
set variable {view}_files = $files;

set variable {view}_cutoff = $cutoff;

create or replace temp view {view} as
select *
from read_parquet(getvariable('{view}_files'), hive_partitioning = false)
where event_time < getvariable('{view}_cutoff');
