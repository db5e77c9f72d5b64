-- The landing files the compaction rewrites: those holding a pending needle, still present.
select l.file_id, l.source, l.path
from pending_landing_files as p
inner join ingest_ledger as l on l.file_id = p.file_id
where l.removed_on is null
order by l.path;
