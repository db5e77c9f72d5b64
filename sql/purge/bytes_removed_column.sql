-- request_log.bytes_removed_on: the day an erasure's bytes were gone from every retained file
-- (issue 25). Erasures completed before the column existed removed their bytes the same night.
create or replace temp table had_bytes_removed_on as
select count(*) > 0 as had
from duckdb_columns()
where
    database_name = current_database() and table_name = 'request_log'
    and column_name = 'bytes_removed_on';

alter table request_log add column if not exists bytes_removed_on date;

update request_log
set bytes_removed_on = completed_on
where
    type = 'erasure' and status = 'completed' and bytes_removed_on is null
    and not (select had from had_bytes_removed_on);
