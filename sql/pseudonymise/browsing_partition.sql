-- One landing partition of pseudonymised browsing, written to its Parquet file ($target).
-- Unsorted: every reader orders what it needs (gated_events, the recommender's events), and
-- sorting a retail day cost as much as writing it.
copy (
    select * exclude (_partition_date)
    from stg_browsing_changed
    where _partition_date = $partition_date
) to $target (format parquet, compression zstd);
