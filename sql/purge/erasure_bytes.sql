-- Every erasure request of the log for the purge report: received, due (its deadline, bytes
-- included) and the day its bytes were gone (null: in effect only, or not yet in effect).
select
    request_pid as request,
    strftime(received_at, '%Y-%m-%dT%H:%M:%SZ') as received,
    strftime(due_on, '%Y-%m-%d') as deadline,
    status,
    strftime(completed_on, '%Y-%m-%d') as in_effect_on,
    strftime(bytes_removed_on, '%Y-%m-%d') as bytes_removed_on
from request_log
where type = 'erasure'
order by received_at, request_pid;
