-- Data-subject requests received in the period (days of the business time zone), by request
-- pseudonym: never the request id, the sender's free text (an email, at times).
with logged as (
    select
        request_pid,
        type,
        purpose,
        cast(timezone($timezone, timezone('UTC', received_at)) as date) as received_on,
        received_at,
        due_on,
        completed_on,
        status,
        rows_affected,
        note,
        run_id
    from request_log
)

select
    request_pid, type, purpose, received_on, due_on, completed_on, status, rows_affected, note,
    run_id
from logged
where received_on between $date_from and $date_to
order by received_at, request_pid;
