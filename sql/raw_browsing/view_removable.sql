-- raw_browsing for a connection that removes rows: the restricted Parquet files less the rows
-- removed in this connection but not yet rewritten out of their files (raw_browsing_removed)
-- and less the rows pending their compaction (pending_browsing_rows), so that every statement
-- after a removal sees the store as it will be.
set variable raw_browsing_files = $files;

create temp table if not exists raw_browsing_removed (
    _partition_date date not null, _file_id varchar not null, _row bigint not null
);

create or replace temp view raw_browsing as
select b.*
from read_parquet(getvariable('raw_browsing_files'), hive_partitioning = false) as b
anti join raw_browsing_removed as r on r._file_id = b._file_id and r._row = b._row
anti join pending_browsing_rows as p on p._file_id = b._file_id and p._row = b._row;
