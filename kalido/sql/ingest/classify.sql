-- Each validated row is loaded, quarantined (with its reason) or dropped as a duplicate of a row
-- earlier in the same file or already in the raw table (the key comes from the source spec).
-- Rows already loaded are looked up only in partitions from $dedup_since on: a re-sent file is
-- caught whole by its checksum, so only rows re-sent inside another file are looked for, and
-- reading every earlier partition would make each night cost more than the last.
create or replace temp table classified as
with stamped as (
    select *, cast($partition_date as date) as _partition_date
    from validated
),
first_in_file as (
    -- A hash aggregate, not a window: no sort of the whole file by key.
    select {key}, min(_row) as _first_row
    from stamped
    where _reason is null
    group by {key}
),
already_loaded as (
    select distinct {key}, true as _in_raw
    from {raw_table}
    where _partition_date >= $dedup_since
)
select
    s.* exclude (_in_raw, _first_row),
    case when s._row <> s._first_row or s._in_raw then 'duplicate' else 'loaded' end as _status
from (
    select *
    from stamped
    inner join first_in_file using ({key})
    left join already_loaded using ({key})
    where _reason is null
) as s
union all by name
select *, 'quarantined' as _status
from stamped
where _reason is not null;
