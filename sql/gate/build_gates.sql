-- Who may be profiled and who may be mailed, as of the logical date. Everything downstream reads
-- only gated_* tables, so a customer failing a gate disappears from every feature on this run.
-- Per shard (kalido/shards.py): every table holds the rows of the subjects whose pseudonym is in
-- [shard_from, shard_to), so the shards' tables partition the one-shard tables exactly.

-- Latest consent event per subject and purpose wins; on a tie the withdrawal wins.
-- Every shard needs every cookie's state (see gated_events), so the latest state is taken over
-- all subjects first.
create or replace temp table gate_consent_latest as
select subject_type, subject_pid, purpose, status, recorded_at
from stg_consents
qualify row_number() over (
    partition by subject_type, subject_pid, purpose
    order by recorded_at desc, (status = 'withdrawn') desc
) = 1;

-- This shard's subjects, in memory only: read twice below (L: kept in the work database, it took
-- 2.4 s of the gate to write).
create or replace temp table gate_consent_state as
select *
from gate_consent_latest
where subject_pid >= $shard_from and subject_pid < $shard_to;

create or replace table gate_request_flags as
select
    customer_pid,
    bool_or(type = 'erasure') as erased,
    bool_or(type = 'restriction') as restricted,
    bool_or(type = 'objection' and (purpose is null or purpose = $profiling_purpose))
        as objected_profiling,
    bool_or(type = 'objection' and (purpose is null or purpose in (select unnest($feed_purposes))))
        as objected_feed
from stg_requests
where customer_pid >= $shard_from and customer_pid < $shard_to
group by customer_pid;

-- Each (cookie, customer) of the browsing once, with its first and last event: the cookie links
-- and the visits read these rows, not every event (all of one cookie's events as one customer,
-- or logged out, make one row), grouped from the partitions' summaries (staged.py).
create or replace temp table gate_browsing_pairs as
select cookie_pid, customer_pid, first_at, last_at
from stg_browsing_pairs;

-- A cookie belongs to a customer when it was only ever logged in as that one customer; a shared
-- device (several customers) keeps only its logged-in events, so nobody inherits another's.
-- Decided over every shard's events (a cookie may have met customers of several shards).
create or replace table gate_cookie_links as
select cookie_pid, min(customer_pid) as customer_pid
from gate_browsing_pairs
where customer_pid is not null
group by cookie_pid
having
    count(distinct customer_pid) = 1
    and min(customer_pid) >= $shard_from and min(customer_pid) < $shard_to;

-- Every event with the person it counts for (a linked cookie's events count for its customer).
-- A view: the events are read, never copied whole, for gated_events.
create or replace temp view gate_attributed_events as
select
    b.*,
    coalesce(b.customer_pid, l.customer_pid) as user_pid
from stg_browsing as b
-- An equi-join only: an extra condition in ON turns it into a nested-loop join.
left join gate_cookie_links as l on l.cookie_pid = b.cookie_pid;

create or replace temp table gate_last_visits as
with attributed as (
    select coalesce(p.customer_pid, l.customer_pid) as user_pid, p.first_at, p.last_at
    from gate_browsing_pairs as p
    left join gate_cookie_links as l on l.cookie_pid = p.cookie_pid
)
select user_pid, min(first_at) as first_visit_at, max(last_at) as last_visit_at
from attributed
where user_pid >= $shard_from and user_pid < $shard_to
group by user_pid;

create or replace table gate_customers as
with consent as (
    select
        subject_pid as user_pid,
        bool_or(purpose = $profiling_purpose and status = 'granted') as profiling_granted,
        count(*) filter (
            where purpose in (select unnest($feed_purposes)) and status = 'granted'
        ) = len($feed_purposes) as feed_granted,
        -- A withdrawal (latest choice) tells the people table's "withdrawn" from "no_consent".
        bool_or(purpose = $profiling_purpose and status = 'withdrawn') as profiling_withdrawn,
        bool_or(purpose in (select unnest($feed_purposes)) and status = 'withdrawn')
            as feed_withdrawn
    from gate_consent_state
    where subject_type = 'customer'
    group by subject_pid
),
purchases as (
    select
        customer_pid as user_pid, min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from stg_orders
    where customer_pid >= $shard_from and customer_pid < $shard_to
    group by customer_pid
),
flags as (
    select
        c.user_pid,
        c.is_minor,
        c.account_status = 'closed' as closed,
        coalesce(consent.profiling_granted, false) as profiling_granted,
        coalesce(consent.feed_granted, false) as feed_granted,
        coalesce(r.erased, false) as erased,
        coalesce(r.restricted, false) as restricted,
        coalesce(r.objected_profiling, false) as objected_profiling,
        coalesce(r.objected_feed, false) as objected_feed,
        coalesce(consent.profiling_withdrawn, false) as profiling_withdrawn,
        coalesce(consent.feed_withdrawn, false) as feed_withdrawn,
        -- least and greatest skip nulls: the earliest and latest activity still held.
        least(a.first_visit_at, c.last_login_at, p.first_order_at) as first_activity_at,
        greatest(a.last_visit_at, c.last_login_at, p.last_order_at) as last_activity_at
    from stg_customers as c
    left join consent on consent.user_pid = c.user_pid
    left join gate_request_flags as r on r.customer_pid = c.user_pid
    left join gate_last_visits as a on a.user_pid = c.user_pid
    left join purchases as p on p.user_pid = c.user_pid
    where c.user_pid >= $shard_from and c.user_pid < $shard_to
)
select
    *,
    not (is_minor or closed or erased or restricted or objected_profiling)
    and profiling_granted as may_profile
from flags;

alter table gate_customers add column may_email boolean;

update gate_customers
set
    may_email = may_profile and feed_granted and not objected_feed
    and coalesce(last_activity_at >= $cutoff - to_years($active_within_years), false);

-- One cause per person left out, the strongest first: why they may not be profiled, else why
-- they may not be mailed (null: may be mailed). The people table and the feed's removals
-- (reason classes) both read it, so the two never disagree.
alter table gate_customers add column exclusion_cause varchar;

update gate_customers set exclusion_cause = case
    when erased then 'erased'
    when is_minor then 'minor'
    when closed then 'closed'
    when restricted then 'restricted'
    when objected_profiling then 'objected'
    when not profiling_granted and profiling_withdrawn then 'withdrawn'
    when not profiling_granted then 'no_consent'
    when objected_feed then 'objected'
    when not feed_granted and feed_withdrawn then 'withdrawn'
    when not feed_granted then 'no_consent'
    when not may_email then 'inactive'
end;

-- Cookies that withdrew personalisation on the banner: their events are never used. A cookie
-- sits in its own pseudonym's shard, not necessarily its user's, hence the check against all.
create or replace table gate_withdrawn_cookies as
select subject_pid as cookie_pid
from gate_consent_state
where subject_type = 'cookie' and purpose = $profiling_purpose and status = 'withdrawn';

create or replace temp table gate_withdrawn_cookies_all as
select subject_pid as cookie_pid
from gate_consent_latest
where subject_type = 'cookie' and purpose = $profiling_purpose and status = 'withdrawn';

-- The events every feature reads: product views and add-to-carts (page views and searches feed
-- none, and were 38 % of the events written here). gate_customers holds this shard's people only,
-- so the join also keeps the shard's events.
create or replace table gated_events as
select e.user_pid, e.event_id, e.event_time, e.event_type, e.session_pid, e.product_id
from gate_attributed_events as e
inner join gate_customers as g on g.user_pid = e.user_pid and g.may_profile
anti join gate_withdrawn_cookies_all as w on w.cookie_pid = e.cookie_pid
where
    e.event_time >= $cutoff - to_years($history_years)
    and e.event_type in ('product_view', 'add_to_cart')
order by e.user_pid, e.event_time, e.event_id;

-- Who has gated browsing of any type in the history window (the people table's history), from
-- the pairs: a pair's last event is its latest, and a withdrawn cookie withdraws all of its pairs.
create or replace table gate_browsing_users as
with attributed as (
    select coalesce(p.customer_pid, l.customer_pid) as user_pid, p.cookie_pid, p.last_at
    from gate_browsing_pairs as p
    left join gate_cookie_links as l on l.cookie_pid = p.cookie_pid
)

select distinct a.user_pid
from attributed as a
inner join gate_customers as g on g.user_pid = a.user_pid and g.may_profile
anti join gate_withdrawn_cookies_all as w on w.cookie_pid = a.cookie_pid
where a.last_at >= $cutoff - to_years($history_years)
order by a.user_pid;

create or replace table gated_orders as
select o.*, o.customer_pid as user_pid
from stg_orders as o
inner join gate_customers as g on g.user_pid = o.customer_pid and g.may_profile
where o.ordered_at >= $cutoff - to_years($history_years)
order by o.customer_pid, o.ordered_at, o.order_pid, o.line_no;
