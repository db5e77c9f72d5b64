-- Everything held about one customer ($pid), section by section, for an access/portability export.
create or replace temp table access_spellings as
select raw_id from raw.id_pseudonyms
where domain = 'customer' and key_version = $key_version and pid = $pid;

create or replace temp table access_cookies as
with own as (
    select distinct b.cookie_id
    from raw.raw_browsing as b
    where b.customer_id in (select raw_id from access_spellings)
)
select cookie_id
from own
where cookie_id not in (
    select cookie_id from raw.raw_browsing
    where customer_id is not null and customer_id not in (select raw_id from access_spellings)
)
order by cookie_id;

create or replace temp table access_account as
select * exclude (_partition_date, _file_id, _row)
from raw.raw_customers
where customer_id in (select raw_id from access_spellings)
order by updated_at desc, _partition_date desc, _row desc
limit 1;

create or replace temp table access_consents as
select subject_type, subject_id, purpose, status, recorded_at, source
from raw.raw_consents
where
    (subject_type = 'customer' and subject_id in (select raw_id from access_spellings))
    or (subject_type = 'cookie' and subject_id in (select cookie_id from access_cookies))
order by recorded_at, purpose;

create or replace temp table access_views as
select event_time, event_type, product_id, page_url, cookie_id
from raw.raw_browsing
where
    customer_id in (select raw_id from access_spellings)
    or (customer_id is null and cookie_id in (select cookie_id from access_cookies))
order by event_time desc, event_id
limit $max_views;

create or replace temp table access_orders as
select order_id, line_no, ordered_at, product_id, quantity, unit_price, currency, channel, status
from raw.raw_orders
where customer_id in (select raw_id from access_spellings)
order by ordered_at, order_id, line_no;

create or replace temp table access_interests as
select category, score, rank from work.feat_interest_profiles where user_pid = $pid order by rank;

create or replace temp table access_recommendations as
select rank, product_id, score, reason
from work.feat_recommendations
where user_pid = $pid
order by rank;

create or replace temp table access_processing as
select
    may_profile, may_email, is_minor, closed, profiling_granted, feed_granted, erased, restricted,
    objected_profiling, objected_feed, last_activity_at
from work.gate_customers
where user_pid = $pid;

create or replace temp table access_requests as
select request_id, type, purpose, received_at, due_on, completed_on, status
from raw.request_log
where customer_pid = $pid
order by received_at, request_id;
