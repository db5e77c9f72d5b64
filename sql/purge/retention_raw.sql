-- Retention rules of the restricted tables that are not per-customer expiry (see policy.yaml).
-- Browsing rows are removed through raw_browsing_removed (see raw_browsing.py).

-- raw_browsing / event: no event older than the email-personalisation window.
insert into raw_browsing_removed
select _partition_date, _file_id, _row from raw_browsing where event_time < $browsing_since;

-- raw_browsing, raw_consents / first_ad_grant: a cookie that is nobody's account cookie and whose
-- advertising cookie was placed (first ad_profiling grant) more than 13 months ago goes whole.
create or replace temp table ad_expired_cookies as
with first_grant as (
    select subject_id as cookie_id, min(recorded_at) as placed_at
    from raw_consents
    where subject_type = 'cookie' and purpose = 'ad_profiling' and status = 'granted'
    group by subject_id
),
account_cookies as (
    select distinct cookie_id from raw_browsing where customer_id is not null
)
select cookie_id
from first_grant
where placed_at < $ad_since and cookie_id not in (select cookie_id from account_cookies);

insert into raw_browsing_removed
select _partition_date, _file_id, _row
from raw_browsing
where cookie_id in (select cookie_id from ad_expired_cookies);

delete from raw_consents
where subject_type = 'cookie' and subject_id in (select cookie_id from ad_expired_cookies);

-- raw_consents / event: other cookie choices go 13 months after the cookie's last choice, once no
-- event of the cookie is held (while events are held, a withdrawal must keep protecting them).
delete from raw_consents
where
    subject_type = 'cookie'
    and subject_id not in (select cookie_id from raw_browsing)
    and subject_id in (
        select subject_id from raw_consents
        where subject_type = 'cookie'
        group by subject_id
        having max(recorded_at) < $cookie_choice_since
    );

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
