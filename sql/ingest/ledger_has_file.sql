-- A file rewritten by an erasure keeps its file_id but has a new sha256: known either way.
select 1 from ingest_ledger where file_id = $file_id or (path = $path and sha256 = $sha256);
