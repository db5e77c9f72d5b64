-- Whose data goes tonight: erasure requests, subjects delivered again after their erasure
-- (suppressed_ids, filled by purge.py from suppression tags) and customers past their period.
create or replace temp table customer_pids as
select raw_id, pid from id_pseudonyms where domain = 'customer' and key_version = $key_version;

create or replace temp table cookie_pids as
select raw_id, pid from id_pseudonyms where domain = 'cookie' and key_version = $key_version;

-- Each (cookie, customer) of the browsing once, with its last event and its number of events:
-- the statements below and target_counts read these rows, not every event (L, 3 days: 27.9M
-- events, 1.7M pairs; the two below 10.1 s -> 3.5 s).
create or replace temp table browsing_pairs as
select cookie_id, customer_id, max(event_time) as last_at, count(*) as events
from raw_browsing
group by cookie_id, customer_id;

-- A cookie is a customer's when it was only ever logged in as that one customer (as in the gate).
create or replace temp table cookie_owner as
select k.pid as cookie_pid, min(c.pid) as customer_pid
from browsing_pairs as b
inner join cookie_pids as k on k.raw_id = b.cookie_id
inner join customer_pids as c on c.raw_id = b.customer_id
group by k.pid
having count(distinct c.pid) = 1;

create or replace temp table pending_erasures as
select r.request_id, r.received_at, p.pid
from raw_requests as r
inner join customer_pids as p on p.raw_id = r.customer_id
where
    r.type = 'erasure' and r.received_at < $cutoff and r._partition_date <= $logical_date
    and r.request_id not in (select request_id from request_log where status = 'completed')
qualify row_number() over (partition by r.request_id order by r._partition_date, r._row) = 1;

-- Last activity = visits (logged in, or on the customer's own cookie), logins and orders; never
-- what was sent. Every row counts, even after the logical date: a purge never expires someone a
-- later delivery shows active.
create or replace temp table last_activity as
with visits as (
    -- Equi-joins only (an extra condition in ON makes a nested-loop join); the CASE picks.
    select
        case when b.customer_id is null then o.customer_pid else c.pid end as pid,
        max(b.last_at) as active_at
    from browsing_pairs as b
    inner join cookie_pids as k on k.raw_id = b.cookie_id
    left join customer_pids as c on c.raw_id = b.customer_id
    left join cookie_owner as o on o.cookie_pid = k.pid
    -- By position: the name pid would bind to c.pid, not to the CASE.
    group by 1  -- noqa: AM06
),
logins as (
    select c.pid, max(coalesce(greatest(r.last_login_at, r.created_at), r.updated_at)) as active_at
    from raw_customers as r
    inner join customer_pids as c on c.raw_id = r.customer_id
    group by c.pid
),
purchases as (
    select c.pid, max(o.ordered_at) as active_at
    from raw_orders as o
    inner join customer_pids as c on c.raw_id = o.customer_id
    group by c.pid
),
activity as (
    select pid, active_at from visits where pid is not null
    union all
    select pid, active_at from logins
    union all
    select pid, active_at from purchases
)
select pid, max(active_at) as last_activity_at
from activity
group by pid;

create or replace temp table target_customers as
with candidates as (
    select pid, 'erasure' as reason, 1 as priority from pending_erasures
    union all
    select c.pid, 'suppressed', 2
    from suppressed_ids as s
    inner join customer_pids as c on c.raw_id = s.raw_id
    where s.domain = 'customer'
    union all
    select pid, 'expired', 3 from last_activity where last_activity_at < $inactive_since
)
select pid, arg_min(reason, priority) as reason
from candidates
group by pid;

create or replace temp table target_ids as
with target_cookies as (
    select o.cookie_pid as pid, t.reason
    from cookie_owner as o
    inner join target_customers as t on t.pid = o.customer_pid
    union
    select k.pid, 'suppressed'
    from suppressed_ids as s
    inner join cookie_pids as k on k.raw_id = s.raw_id
    where s.domain = 'cookie'
)
select 'customer' as domain, c.raw_id, c.pid, t.reason
from customer_pids as c
inner join target_customers as t on t.pid = c.pid
union all
select 'cookie', k.raw_id, k.pid, min(t.reason)
from cookie_pids as k
inner join target_cookies as t on t.pid = k.pid
group by k.raw_id, k.pid;

-- The targets' consents (subject_type is the domain of its subject_id), by row: delete_targets
-- deletes them and files_to_rewrite rewrites their landing files.
create or replace temp table target_consents as
select c.rowid as consent_row, c._file_id
from raw_consents as c
inner join target_ids as t on t.domain = c.subject_type and t.raw_id = c.subject_id;

-- What to look for in landing files, quarantined payloads, feeds, exports and logs.
create or replace temp table target_needles as
select distinct domain, lower(trim(raw_id)) as needle from target_ids
union
select distinct 'email', lower(trim(r.email))
from raw_customers as r
inner join target_ids as t on t.domain = 'customer' and t.raw_id = r.customer_id;

-- Quarantined payloads are JSON (rows) or raw text (unreadable lines); only valid JSON is parsed.
create or replace temp table target_quarantine as
with parsed as (
    select
        rowid as quarantine_row,
        _file_id,
        payload,
        case when json_valid(payload) then payload end as json_payload
    from raw_quarantine
),
fields as (
    select
        *,
        lower(trim(json_extract_string(json_payload, '$.customer_id'))) as customer_id,
        lower(trim(json_extract_string(json_payload, '$.cookie_id'))) as cookie_id,
        lower(trim(json_extract_string(json_payload, '$.subject_id'))) as subject_id,
        lower(trim(json_extract_string(json_payload, '$.email'))) as email
    from parsed
),
unparsed_hits as (
    -- A join of the unparsed payloads alone with the needles: inside the OR below, the same test
    -- ran on every quarantined row times every needle (L: 20 s, now 1 s).
    select distinct u.quarantine_row
    from (
        select quarantine_row, lower(payload) as text from parsed where json_payload is null
    ) as u
    inner join target_needles as n on contains(u.text, n.needle)
)
select quarantine_row, _file_id
from fields
where
    customer_id in (select needle from target_needles where domain = 'customer')
    or cookie_id in (select needle from target_needles where domain = 'cookie')
    or subject_id in (select needle from target_needles where domain in ('customer', 'cookie'))
    or email in (select needle from target_needles where domain = 'email')
    or quarantine_row in (select quarantine_row from unparsed_hits);
