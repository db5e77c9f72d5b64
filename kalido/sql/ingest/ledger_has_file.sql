select 1 from ingest_ledger where file_id = $file_id;
