insert into ingest_ledger (
    file_id, source, partition_date, path, sha256, size_bytes, status, rows_read, rows_loaded,
    rows_quarantined, duplicates_dropped, error, run_id, logical_date, dropped_columns,
    shown_path
)
values (
    $file_id, $source, $partition_date, $path, $sha256, $size_bytes, $status, $rows_read,
    $rows_loaded, $rows_quarantined, $duplicates_dropped, $error, $run_id, $logical_date,
    $dropped_columns, $shown_path
);
