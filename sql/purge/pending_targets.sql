-- Tonight's targets wait for the compaction (purge.py) with one due date, the earliest of theirs:
-- an erasure's is its request's due date; a subject delivered again after their erasure gets as
-- many months from tonight as a request; an expired customer is due tonight (retention removes
-- bytes at once, as it always did).
create or replace temp table target_due as
with erasure_due as (
    select min(l.due_on) as due_on
    from pending_erasures as e
    inner join request_log as l on l.request_id = e.request_id
)
select
    min(
        case t.reason
            when 'erasure' then (select due_on from erasure_due)
            when 'suppressed' then cast($logical_date + to_months($due_months) as date)
            else cast($logical_date as date)
        end
    ) as due_on
from target_ids as t;

insert into pending_needles
select n.domain, n.needle, d.due_on
from (select distinct domain, needle from target_needles) as n
cross join target_due as d;
