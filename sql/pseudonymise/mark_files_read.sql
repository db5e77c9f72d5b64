-- In the transaction that stores the pseudonyms of unread_files' identifiers.
update ingest_ledger
set identifiers_key_version = $key_version
where file_id in (select file_id from unread_files);
