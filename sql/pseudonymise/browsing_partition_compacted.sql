-- A staged partition without the rows a compaction removed from its raw files
-- (compacted_events: their day, event id and time), written to $target.
copy (
    with removed as (
        select event_id, event_time
        from compacted_events
        where _partition_date = $partition_date
    )

    select p.*
    from read_parquet($file, hive_partitioning = false) as p
    anti join removed as r on r.event_id = p.event_id and r.event_time = p.event_time
) to $target (format parquet, compression zstd);
