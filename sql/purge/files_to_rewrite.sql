-- Landing files that hold a row of a target (lineage: every raw row keeps its _file_id), rewritten
-- by the next compaction.
with hit_files as (
    select _file_id from raw_customers
    where customer_id in (select raw_id from target_ids where domain = 'customer')
    union
    select _file_id from raw_orders
    where customer_id in (select raw_id from target_ids where domain = 'customer')
    union
    select _file_id from raw_requests
    where customer_id in (select raw_id from target_ids where domain = 'customer')
    union
    select _file_id from raw_browsing
    where
        customer_id in (select raw_id from target_ids where domain = 'customer')
        or cookie_id in (select raw_id from target_ids where domain = 'cookie')
    union
    select _file_id from target_consents
    union
    select _file_id from target_quarantine
)
insert or ignore into pending_landing_files
select l.file_id
from ingest_ledger as l
inner join hit_files as h on h._file_id = l.file_id
where l.removed_on is null;
