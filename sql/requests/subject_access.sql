-- Everything held about the customers of the open access/portability requests (access_open),
-- section by section, all of them in one pass over each store (never one scan per request).
create or replace temp table access_spellings as
select pid, raw_id from raw.id_pseudonyms
where
    domain = 'customer' and key_version = $key_version
    and pid in (select customer_pid from access_open);

-- A cookie is the customer's when it was only ever logged in as them (as in the gate).
create or replace temp table access_cookies as
with pairs as (
    -- Each (cookie, customer) once before the join: not every logged-in event.
    select distinct cookie_id, customer_id
    from raw_browsing
    where customer_id is not null
),
logged_in as (
    select b.cookie_id, p.pid
    from pairs as b
    inner join raw.id_pseudonyms as p
        on p.raw_id = b.customer_id and p.domain = 'customer' and p.key_version = $key_version
),
owners as (
    select cookie_id, min(pid) as pid
    from logged_in
    group by cookie_id
    having count(distinct pid) = 1
)
select o.pid, o.cookie_id
from owners as o
where o.pid in (select customer_pid from access_open)
order by o.pid, o.cookie_id;

create or replace temp table access_account as
select s.pid, c.* exclude (_partition_date, _file_id, _row)
from raw.raw_customers as c
inner join access_spellings as s on s.raw_id = c.customer_id
qualify row_number() over (
    partition by s.pid order by c.updated_at desc, c._partition_date desc, c._row desc
) = 1;

create or replace temp table access_consents as
select pid, subject_type, subject_id, purpose, status, recorded_at, source
from (
    select s.pid, c.*
    from raw.raw_consents as c
    inner join access_spellings as s on s.raw_id = c.subject_id
    where c.subject_type = 'customer'
    union all
    select k.pid, c.*
    from raw.raw_consents as c
    inner join access_cookies as k on k.cookie_id = c.subject_id
    where c.subject_type = 'cookie'
)
order by pid, recorded_at, purpose;

create or replace temp table access_views as
select pid, event_time, event_type, product_id, page_url, cookie_id
from (
    select s.pid, b.*
    from raw_browsing as b
    inner join access_spellings as s on s.raw_id = b.customer_id
    union all
    select k.pid, b.*
    from raw_browsing as b
    inner join access_cookies as k on k.cookie_id = b.cookie_id
    where b.customer_id is null
)
qualify row_number() over (partition by pid order by event_time desc, event_id) <= $max_views
order by pid, event_time desc, event_id;

create or replace temp table access_orders as
select
    s.pid, o.order_id, o.line_no, o.ordered_at, o.product_id, o.quantity, o.unit_price,
    o.currency, o.channel, o.status
from raw.raw_orders as o
inner join access_spellings as s on s.raw_id = o.customer_id
order by s.pid, o.ordered_at, o.order_id, o.line_no;

create or replace temp table access_interests as
select user_pid as pid, category, score, rank
from work.feat_interest_profiles
where user_pid in (select customer_pid from access_open)
order by pid, rank;

create or replace temp table access_recommendations as
select user_pid as pid, rank, product_id, score, reason
from work.feat_recommendations
where user_pid in (select customer_pid from access_open)
order by pid, rank;

create or replace temp table access_processing as
select
    user_pid as pid, may_profile, may_email, is_minor, closed, profiling_granted, feed_granted,
    erased, restricted, objected_profiling, objected_feed, last_activity_at
from work.gate_customers
where user_pid in (select customer_pid from access_open);

create or replace temp table access_requests as
select customer_pid as pid, request_id, type, purpose, received_at, due_on, completed_on, status
from raw.request_log
where customer_pid in (select customer_pid from access_open)
order by pid, received_at, request_id;

-- Advertising (issue 27): each of the customer's own cookies that made an ad_profiling choice,
-- whether it may be profiled and, if not, why; when it is, its profile (ad pseudonym, age band
-- and gender if any, top interests, grant and expiry) and each segment it is in with the rule
-- and the profile's values that met it.
create or replace temp table access_ad_profile as
with cookies as (
    select c.pid, c.cookie_id, p.pid as cookie_pid
    from access_cookies as c
    inner join raw.id_pseudonyms as p
        on p.raw_id = c.cookie_id and p.domain = 'cookie' and p.key_version = $key_version
),
segments as (
    select
        m.cookie_pid,
        list(
            struct_pack(segment_id := m.segment_id, name := s.name, rule := s.rule, why := m.reason)
            order by m.segment_id
        ) as segments
    from work.feat_ad_memberships as m
    inner join work.feat_ad_segments as s on s.segment_id = m.segment_id
    where m.cookie_pid in (select cookie_pid from cookies)
    group by m.cookie_pid
)

select
    k.pid,
    k.cookie_id,
    g.may_profile,
    list_filter(
        [
            case when not g.granted then 'ad_profiling is not granted on this cookie' end,
            case when g.expired then 'its first ad_profiling grant is past the policy period' end,
            case when g.minor then 'a minor was logged in on this cookie' end,
            case when g.objected then 'an objection to ad profiling' end,
            case when g.restricted then 'a restriction of processing' end,
            case when g.erased then 'an erasure request' end,
            case when g.withdrew_in_account then 'ad_profiling withdrawn in the account' end
        ],
        reason -> reason is not null
    ) as not_profiled_because,
    g.granted_on,
    g.expires_on,
    p.ad_pid,
    p.age_band,
    p.gender,
    p.interests,
    coalesce(s.segments, []) as segments
from cookies as k
inner join work.gate_ad_cookies as g on g.cookie_pid = k.cookie_pid
left join work.feat_ad_profiles as p on p.cookie_pid = k.cookie_pid
left join segments as s on s.cookie_pid = k.cookie_pid
order by k.pid, k.cookie_id;
