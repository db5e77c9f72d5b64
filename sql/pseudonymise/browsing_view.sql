-- stg_browsing as of the logical date, for the stage that opened this connection: a view over
-- the stored Parquet partitions up to that date, cut at the end of the day like the other
-- staging tables. A view, not a table: a night copies no browsing history into the work
-- database. (A view takes no parameters; session variables carry them.)
set variable stg_browsing_files = $files;

set variable stg_browsing_cutoff = $cutoff;

create or replace temp view stg_browsing as
select *
from read_parquet(getvariable('stg_browsing_files'), hive_partitioning = false)
where event_time < getvariable('stg_browsing_cutoff');
