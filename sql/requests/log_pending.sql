-- Every request received by the end of the logical day enters the log once, open, with its due
-- date (received + the policy's months, in the business calendar).
insert into request_log (
    request_id, request_pid, type, purpose, customer_pid, key_version, received_at, due_on,
    status, run_id
)
select
    r.request_id,
    kalido_request_pid(r.request_id),
    r.type,
    r.purpose,
    p.pid,
    $key_version,
    r.received_at,
    cast(
        cast(timezone($timezone, timezone('UTC', r.received_at)) as date) + to_months($due_months)
        as date
    ),
    'open',
    $run_id
from raw_requests as r
left join id_pseudonyms as p
    on p.domain = 'customer' and p.raw_id = r.customer_id and p.key_version = $key_version
where
    r.received_at < $cutoff and r._partition_date <= $logical_date
    and r.request_id not in (select request_id from request_log)
qualify row_number() over (partition by r.request_id order by r._partition_date, r._row) = 1;

-- Requests logged before request pseudonyms existed get theirs.
update request_log set request_pid = kalido_request_pid(request_id) where request_pid is null;

-- Objection and restriction take effect in this run's gates (nothing profiled, nothing mailed).
update request_log
set status = 'completed', completed_on = $logical_date, run_id = $run_id
where status = 'open' and type in ('objection', 'restriction');
