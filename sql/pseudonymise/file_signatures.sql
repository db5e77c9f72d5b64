-- What each raw browsing file holds, in a few numbers (see staged.partition_signatures): a
-- partition's signature combines those of its files, so only a new or rewritten file is read.
select
    filename as path,
    count(*) as row_count,
    bit_xor(hash(_file_id, _row)) as row_hash,
    bit_xor(distinct hash(_file_id)) as file_hash
from read_parquet($files, filename = true, hive_partitioning = false)
group by filename
order by filename;
