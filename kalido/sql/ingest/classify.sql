-- Each validated row is loaded, quarantined (with its reason) or dropped as a duplicate of a row
-- earlier in the same file or already in the raw table (the key comes from the source spec).
create or replace temp table classified as
with stamped as (
    select *, cast($partition_date as date) as _partition_date
    from validated
),
valid_rows as (
    select
        *,
        row_number() over (partition by {key} order by _row) as _copy_in_file
    from stamped
    where _reason is null
),
already_loaded as (
    select distinct {key}, true as _in_raw
    from {raw_table}
)
select
    * exclude (_copy_in_file, _in_raw),
    case when _copy_in_file > 1 or _in_raw then 'duplicate' else 'loaded' end as _status
from valid_rows
left join already_loaded using ({key})
union all by name
select *, 'quarantined' as _status
from stamped
where _reason is not null;
