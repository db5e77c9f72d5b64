-- No rows, the partitions' columns: listed among the files stg_browsing reads, so that a home
-- without any browsing partition still has an (empty) stg_browsing.
copy (
    select * exclude (_partition_date)
    from stg_browsing_changed
    where false
) to $target (format parquet, compression zstd);
