-- Per-file accounting: rows_read = rows_loaded + rows_quarantined + duplicates_dropped.
-- A landing file name is the sender's free text: its shown form (ingest.shown_path) only.
create table ingest_files as
select
    file_id, source, partition_date, coalesce(shown_path, path) as path, status, rows_read,
    rows_loaded, rows_quarantined, duplicates_dropped, error, dropped_columns, run_id,
    logical_date
from raw.ingest_ledger
order by source, partition_date, path, file_id;
