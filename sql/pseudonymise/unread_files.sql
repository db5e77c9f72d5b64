-- Landing files whose identifiers are not yet all pseudonymised under the current key version;
-- returns the browsing ones (their rows are restricted Parquet files, read by path).
create or replace temp table unread_files as
select file_id, source, partition_date
from ingest_ledger
where identifiers_key_version is distinct from $key_version;

select partition_date, file_id from unread_files where source = 'browsing' order by all;
