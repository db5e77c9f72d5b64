select 1 from ingest_ledger where source = $source and sha256 = $sha256 and status = 'ingested';
