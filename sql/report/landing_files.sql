-- Landing files the ledger still counts as present, with the day they were ingested (the
-- landing_files clock). Paths stay in memory: a file name is the sender's free text.
select path, logical_date
from ingest_ledger
where removed_on is null;
