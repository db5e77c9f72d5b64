-- Every row of the targets in the restricted zone, in effect: DELETE leaves the old bytes in the
-- database file and browsing rows only become pending (their files keep them), until the next
-- compaction rebuilds the file and rewrites the browsing files (purge.py).
delete from raw_customers
where customer_id in (select raw_id from target_ids where domain = 'customer');

delete from raw_orders
where customer_id in (select raw_id from target_ids where domain = 'customer');

delete from raw_requests
where customer_id in (select raw_id from target_ids where domain = 'customer');

insert into pending_browsing_rows
select _partition_date, _file_id, _row, event_id, event_time
from raw_browsing
where
    customer_id in (select raw_id from target_ids where domain = 'customer')
    or cookie_id in (select raw_id from target_ids where domain = 'cookie');

delete from raw_consents where rowid in (select consent_row from target_consents);

delete from cookies_removed_ahead
where cookie_id in (select raw_id from target_ids where domain = 'cookie');

delete from raw_quarantine where rowid in (select quarantine_row from target_quarantine);

-- Every key version: an old version must not keep the link either.
delete from id_pseudonyms
where rowid in (
    select p.rowid from id_pseudonyms as p inner join target_ids using (domain, raw_id)
);
