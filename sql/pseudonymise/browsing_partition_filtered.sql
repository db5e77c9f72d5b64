-- A staged partition without the rows raw no longer holds (event ids are unique in a partition),
-- written to $target.
copy (
    select p.*
    from read_parquet($file, hive_partitioning = false) as p
    semi join stg_browsing_surviving as s
        on s.event_id = p.event_id and s._partition_date = $partition_date
) to $target (format parquet, compression zstd);
