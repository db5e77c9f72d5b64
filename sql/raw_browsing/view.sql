-- raw_browsing for this connection: the restricted Parquet files as they are now. (A view takes
-- no parameters; a session variable carries the file list.)
set variable raw_browsing_files = $files;

create or replace temp view raw_browsing as
select * from read_parquet(getvariable('raw_browsing_files'), hive_partitioning = false);
