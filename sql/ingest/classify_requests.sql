-- A request is its id and its content. The first request to use an id keeps it (the earliest
-- raw row, else the earliest row of this file); a later row with that id and other content
-- (another type, customer, purpose or time) is quarantined as a conflict and raised by
-- check_requests, and one with the same content is a duplicate, however long ago the first came.
create or replace temp table classified as
with incoming as (
    select _row, request_id, customer_id, type, purpose, received_at
    from validated
    where _reason is null
),
holders as (
    -- Raw rows come before every row of this file (_row 0).
    select
        request_id, customer_id, type, purpose, received_at, 0 as _row,
        _partition_date as _held_since, _row as _held_row
    from raw_requests
    where _file_id <> $file_id
    union all
    select request_id, customer_id, type, purpose, received_at, _row, null, null
    from incoming
),
first_holder as (
    select *
    from holders
    qualify row_number() over (
        partition by request_id order by _row, _held_since, _held_row
    ) = 1
),
verdicts as (
    select
        i._row,
        (
            (f.customer_id, f.type, f.purpose, f.received_at)
            is distinct from (i.customer_id, i.type, i.purpose, i.received_at)
        ) as _conflict
    from incoming as i
    inner join first_holder as f on f.request_id = i.request_id and f._row < i._row
)
select
    c._row,
    case when v._conflict then 'request_id already used by another request' else c._reason end
        as _reason,
    case
        when v._conflict then 'quarantined'
        when v._row is not null then 'duplicate'
        else c._status
    end as _status
from classified as c
left join verdicts as v on v._row = c._row;
