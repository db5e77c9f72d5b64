-- The raw rows pending an erasure's compaction ({pending}: raw.pending_browsing_rows), as the
-- staged partitions know them, to $target: stg_browsing leaves them out (browsing_view_pending).
copy (
    select distinct event_id, event_time from {pending}
) to $target (format parquet, compression zstd);
