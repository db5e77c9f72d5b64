-- Browsing rows go to their own restricted Parquet file (raw_browsing.py says why), in the
-- column order of the schema file.
copy (
    select
        {columns},
        cast($partition_date as date) as _partition_date,
        $file_id as _file_id,
        v._row
    from validated as v
    inner join classified as c on c._row = v._row
    where c._status = 'loaded'
) to $target (format parquet, compression zstd);
