-- Retention rules of the restricted tables that are not per-customer expiry (see policy.yaml),
-- applied every night.
-- Browsing rows are removed through raw_browsing_removed (see raw_browsing.py).

-- raw_browsing / event: no event older than the email-personalisation window.
insert into raw_browsing_removed
select _partition_date, _file_id, _row from raw_browsing where event_time < $browsing_since;

-- The cookie rules (first_ad_grant, cookie choices): purge/retention_cookies.sql.

-- raw_quarantine / ingested.
delete from raw_quarantine
where _file_id in (select file_id from ingest_ledger where logical_date < $quarantine_since);

-- raw_products / superseded: a snapshot replaced by one that is itself older than the period.
delete from raw_products
where _partition_date < (
    select max(_partition_date) from raw_products where _partition_date <= $superseded_before
);

-- ingest_ledger / ingested: file records without personal data, kept for the accounting.
delete from ingest_ledger where logical_date < $ledger_since;

-- request_log / completed; purge_log / event.
delete from purge_log where logical_date < $purge_log_since;

delete from request_log where completed_on < $request_log_since;

-- id_pseudonyms / referenced: an identifier no other restricted table holds any more.
delete from id_pseudonyms
where
    not (domain = 'customer' and raw_id in (
        select customer_id from raw_customers
        union
        select customer_id from raw_orders
        union
        select customer_id from raw_requests
        union
        select customer_id from raw_browsing where customer_id is not null
        union
        select subject_id from raw_consents where subject_type = 'customer'
    ))
    and not (domain = 'cookie' and raw_id in (
        select cookie_id from raw_browsing
        union
        select subject_id from raw_consents where subject_type = 'cookie'
    ));
