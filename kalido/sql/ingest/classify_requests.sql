-- A request is its id and its content. A request id already used, in any earlier partition or
-- earlier in this file, by a request with other content (another type, customer, purpose or
-- time) is quarantined as a conflict: the first request keeps the id and still runs, and the
-- conflict is raised by check_requests. The same request sent again is a duplicate, however
-- long ago the first copy came.
create or replace temp table classified as
with incoming as (
    select _row, request_id, customer_id, type, purpose, received_at
    from validated
    where _reason is null
),
earlier as (
    -- Raw rows come before every row of this file (_row 0).
    select request_id, customer_id, type, purpose, received_at, 0 as _row
    from raw_requests
    where _file_id <> $file_id
    union all
    select request_id, customer_id, type, purpose, received_at, _row
    from incoming
),
verdicts as (
    select
        i._row,
        bool_or(
            (e.customer_id, e.type, e.purpose, e.received_at)
            is distinct from (i.customer_id, i.type, i.purpose, i.received_at)
        ) as _conflict,
        bool_or(e._row = 0) as _in_raw
    from incoming as i
    inner join earlier as e on e.request_id = i.request_id and e._row < i._row
    group by i._row
)
select
    c._row,
    case when v._conflict then 'request_id already used by another request' else c._reason end
        as _reason,
    case
        when v._conflict then 'quarantined'
        when v._in_raw then 'duplicate'
        else c._status
    end as _status
from classified as c
left join verdicts as v on v._row = c._row;
