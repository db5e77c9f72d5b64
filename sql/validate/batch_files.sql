-- The landing files an input suite looks at: those this run loaded, and every file of the
-- logical date's partitions (so a rerun of the date validates its batch again).
create or replace temp table batch_files as
select
    file_id, source, partition_date, path, status, rows_read, rows_loaded, rows_quarantined,
    duplicates_dropped
from raw.ingest_ledger
where run_id = $run_id or partition_date = $logical_date;

-- One row per file for landing.ingest_files; no path (it can name a person's export).
select
    source,
    cast(partition_date as varchar) as partition_date,
    file_id,
    status,
    rows_read,
    case when rows_read > 0 then rows_quarantined / rows_read else 0 end as quarantined_share
from batch_files
order by source, partition_date, file_id;
