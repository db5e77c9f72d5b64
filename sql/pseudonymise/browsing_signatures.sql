-- What each landing partition of raw browsing holds, in a few numbers: a new file, an erasure or
-- a retention delete changes them, and with them the partition's staging. The files' own digest
-- tells a partition that only lost rows (its staging can be filtered) from one that got a file.
select
    _partition_date as partition_date,
    count(*) as row_count,
    bit_xor(hash(_file_id, _row)) as row_hash,
    bit_xor(distinct hash(_file_id)) as file_hash
from raw_browsing
where _partition_date <= $logical_date
group by _partition_date
order by _partition_date;
