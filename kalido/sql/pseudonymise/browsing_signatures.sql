-- What each landing partition of raw browsing holds, in a few numbers: a new file, an erasure or
-- a retention delete changes them, and with them the partition's staging.
select
    _partition_date as partition_date,
    count(*) as row_count,
    bit_xor(hash(_file_id, _row)) as row_hash
from raw.raw_browsing
where _partition_date <= $logical_date
group by _partition_date
order by _partition_date;
