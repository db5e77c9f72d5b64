-- What each purge removed per store (counts only).
create table purge_log as
select logical_date, run_id, store, rows_removed, files_removed, files_rewritten, rows_archived
from raw.purge_log
order by logical_date, run_id, store;
