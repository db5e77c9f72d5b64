-- Requests past their due date and still open, answered late by this run, or failed; erasures in
-- effect whose bytes are still in some retained file past their due date (issue 25: a compaction
-- should have run); and request ids reused by another request in the last month (quarantined at
-- ingest: the DPO must answer the second request by hand). Named by request pseudonym, or by the
-- file and line of the conflict.
create or replace temp table reused_request_ids as
select q._file_id, q._row
from raw_quarantine as q
inner join ingest_ledger as l on l.file_id = q._file_id
where
    q.source = 'requests' and q.reason = 'request_id already used by another request'
    and l.logical_date <= $logical_date
    and l.logical_date > cast($logical_date as date) - interval 1 month;

create or replace temp table attention as
select request_pid
from request_log
where
    (status = 'open' and $logical_date > due_on)
    or (status = 'completed' and run_id = $run_id and completed_on > due_on)
    or status = 'failed'
    or (
        type = 'erasure' and status = 'completed' and bytes_removed_on is null
        and $logical_date > due_on
    )
union all
select 'request id reused: file ' || _file_id || ' line ' || _row
from reused_request_ids
order by request_pid;

create or replace temp table request_counts as
select
    count(*) as requests,
    count(*) filter (where status = 'open') as open,
    count(*) filter (where status = 'completed') as completed,
    count(*) filter (where status = 'open' and $logical_date > due_on) as overdue,
    count(*) filter (where status = 'completed' and run_id = $run_id and completed_on > due_on)
        as completed_late,
    count(*) filter (where status = 'failed') as failed,
    count(*) filter (
        where
        type = 'erasure' and status = 'completed' and bytes_removed_on is null
        and $logical_date > due_on
    ) as bytes_overdue,
    (select count(*) from reused_request_ids) as reused_ids
from request_log;
