-- Which advertising cookies may be profiled on the logical date (issue 27), one row per cookie
-- with any ad_profiling choice, with the reasons that stop it. Only staging is read (consents,
-- requests, customers, browsing as of the logical date), never the personalisation gate: ad
-- profiling has its own purpose, and a cookie is decided over every shard's people at once.

-- Ad choices of cookies; several choices recorded at one instant count as a withdrawal if one is
-- (the withdrawal wins a tie, as in the gate).
create or replace temp table ad_cookie_choices as
select subject_pid as cookie_pid, recorded_at, bool_and(status = 'granted') as granted
from stg_consents
where subject_type = 'cookie' and purpose = $ad_purpose
group by subject_pid, recorded_at;

-- The first grant places the advertising cookies and starts the clock; later grants and visits do
-- not renew it (policy: the first_ad_grant rules). expires_on is the first day not profiled.
create or replace temp table ad_cookie_state as
with state as (
    select
        cookie_pid,
        arg_max(granted, recorded_at) as latest_granted,
        min(recorded_at) filter (where granted) as first_grant_at
    from ad_cookie_choices
    group by cookie_pid
),
dated as (
    select
        *,
        cast(timezone($timezone, timezone('UTC', first_grant_at)) as date) as granted_on
    from state
)

select
    *,
    cast(
        granted_on + (to_years($lifetime_years) + to_months($lifetime_months))
        + to_days($lifetime_days) as date
    ) as expires_on
from dated;

-- The customers each of these cookies was logged in as (one: the cookie is theirs, as in the
-- gate; several: a shared device).
create or replace temp table ad_cookie_customers as
select distinct b.cookie_pid, b.customer_pid
from stg_browsing_pairs as b
semi join ad_cookie_state as s on s.cookie_pid = b.cookie_pid
where b.customer_pid is not null;

-- What each of those customers said or is: a minor, an objection to ad profiling (or to
-- everything), a restriction, an erasure, an ad_profiling withdrawal in the account.
create or replace temp table ad_customer_flags as
with requests as (
    select
        customer_pid,
        bool_or(type = 'erasure') as erased,
        bool_or(type = 'restriction') as restricted,
        bool_or(type = 'objection' and (purpose is null or purpose = $ad_purpose)) as objected
    from stg_requests
    group by customer_pid
),
account_choice as (
    select subject_pid as customer_pid, status
    from stg_consents
    where subject_type = 'customer' and purpose = $ad_purpose
    qualify row_number() over (
        partition by subject_pid order by recorded_at desc, (status = 'withdrawn') desc
    ) = 1
),
customers as (
    select distinct customer_pid from ad_cookie_customers
)

select
    c.customer_pid,
    coalesce(s.is_minor, false) as is_minor,
    coalesce(r.erased, false) as erased,
    coalesce(r.restricted, false) as restricted,
    coalesce(r.objected, false) as objected,
    coalesce(a.status = 'withdrawn', false) as withdrew_in_account,
    coalesce(a.status = 'granted', false) as granted_in_account,
    coalesce(s.account_status = 'closed', false) as closed,
    s.age_band,
    s.gender
from customers as c
left join stg_customers as s on s.user_pid = c.customer_pid
left join requests as r on r.customer_pid = c.customer_pid
left join account_choice as a on a.customer_pid = c.customer_pid;

-- A shared device carries every one of its people's refusals: any minor, objection,
-- restriction, erasure or withdrawal among them stops the cookie. Age band and gender only for a
-- cookie that is one adult customer's, who granted ad_profiling in the account too.
create or replace table gate_ad_cookies as
with people as (
    select
        k.cookie_pid,
        count(*) as customers,
        bool_or(f.is_minor) as minor,
        bool_or(f.erased) as erased,
        bool_or(f.restricted) as restricted,
        bool_or(f.objected) as objected,
        bool_or(f.withdrew_in_account) as withdrew_in_account,
        case when count(*) = 1 then min(k.customer_pid) end as customer_pid,
        case
            when count(*) = 1 and bool_and(f.granted_in_account and not f.closed)
                then min(f.age_band)
        end as age_band,
        case
            when count(*) = 1 and bool_and(f.granted_in_account and not f.closed)
                then min(f.gender)
        end as gender
    from ad_cookie_customers as k
    inner join ad_customer_flags as f on f.customer_pid = k.customer_pid
    group by k.cookie_pid
),
decided as (
    select
        s.cookie_pid,
        s.first_grant_at,
        s.granted_on,
        s.expires_on,
        s.latest_granted as granted,
        coalesce(s.expires_on <= $logical_date, false) as expired,
        coalesce(p.minor, false) as minor,
        coalesce(p.erased or p.restricted or p.objected or p.withdrew_in_account, false)
            as stopped_by_customer,
        coalesce(p.erased, false) as erased,
        coalesce(p.restricted, false) as restricted,
        coalesce(p.objected, false) as objected,
        coalesce(p.withdrew_in_account, false) as withdrew_in_account,
        coalesce(p.customers, 0) as customers,
        p.customer_pid,
        -- 'unknown' (no birth date) says nothing: no band rather than a value.
        nullif(p.age_band, 'unknown') as age_band,
        p.gender
    from ad_cookie_state as s
    left join people as p on p.cookie_pid = s.cookie_pid
)

select
    *,
    granted and not expired and not minor and not stopped_by_customer as may_profile
from decided
order by cookie_pid;
