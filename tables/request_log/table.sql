-- Data-subject requests and what was done (pseudonyms, dates, counts per store; no identifier:
-- a request id is the sender's free text, so only its keyed pseudonym is published).
create table request_log as
select
    request_pid, type, purpose, customer_pid, received_at, due_on, completed_on, status,
    rows_affected, note, bytes_removed_on
from raw.request_log
order by received_at, request_pid;
