-- Quarantined rows of the files ingested in the period, by source and reason (reasons name the
-- rule, never the value). Rows still held only: raw_quarantine keeps them 30 days.
select q.source, q.reason, count(*) as rows
from raw_quarantine as q
inner join ingest_ledger as l on l.file_id = q._file_id
where l.logical_date between $date_from and $date_to
group by q.source, q.reason
order by q.source, q.reason;
