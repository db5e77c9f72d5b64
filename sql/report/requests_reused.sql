-- Requests quarantined because their id was already used by another request, ingested in the
-- period: the DPO answers them by hand (check_requests names them by file and line).
select count(*) as reused_ids
from raw_quarantine as q
inner join ingest_ledger as l on l.file_id = q._file_id
where
    q.source = 'requests' and q.reason = 'request_id already used by another request'
    and l.logical_date between $date_from and $date_to;
