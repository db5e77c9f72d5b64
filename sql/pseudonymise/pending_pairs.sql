-- The (cookie, customer) pairs of the rows pending an erasure's compaction ($pending), found in
-- the staged partitions ($files), to $target, once a night (pseudonymise). Pending rows are whole
-- pairs (an erasure takes every row of its customers and of its cookies), so the summaries stand
-- for their partitions less these pairs (browsing_summaries.sql), and no partition is read whole
-- for them.
copy (
    select distinct b.cookie_pid, b.customer_pid
    from read_parquet($files, hive_partitioning = false) as b
    semi join read_parquet($pending, hive_partitioning = false) as p
        on p.event_id = b.event_id and p.event_time = b.event_time
) to $target (format parquet, compression zstd);
