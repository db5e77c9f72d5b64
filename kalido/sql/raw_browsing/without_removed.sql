-- One raw browsing file without the rows removed from it.
copy (
    select *
    from read_parquet($source, hive_partitioning = false) as b
    where not exists (
        select 1 from raw_browsing_removed as r
        where r._file_id = $file_id and r._row = b._row
    )
) to $target (format parquet, compression zstd);
