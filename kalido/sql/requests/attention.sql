-- Requests past their due date and still open, answered late by this run, or failed.
create or replace temp table attention as
select request_id
from request_log
where
    (status = 'open' and $logical_date > due_on)
    or (status = 'completed' and run_id = $run_id and completed_on > due_on)
    or status = 'failed'
order by request_id;

create or replace temp table request_counts as
select
    count(*) as requests,
    count(*) filter (where status = 'open') as open,
    count(*) filter (where status = 'completed') as completed,
    count(*) filter (where status = 'open' and $logical_date > due_on) as overdue,
    count(*) filter (where status = 'completed' and run_id = $run_id and completed_on > due_on)
        as completed_late,
    count(*) filter (where status = 'failed') as failed
from request_log;
