-- The cookie behind each ad profile publish is about to copy (work.feat_ad_profiles), its state
-- re-derived from staging rather than taken from the ads gate (gate_ad_cookies): its latest
-- ad_profiling choice, its first grant and the expiry the policy's lifetime gives it, any minor
-- among the customers it was logged in as, and whether its ad pseudonym equals a pseudonym of
-- another domain. Read by the warehouse.ad_profiles and exports.ad_segments suites.
create or replace temp table ad_cookie_checks as
with profiles as (
    select ad_pid, cookie_pid
    from work.feat_ad_profiles
),
choices as (
    select subject_pid as cookie_pid, recorded_at, status
    from work.stg_consents
    where
        subject_type = 'cookie' and purpose = $ad_purpose
        and subject_pid in (select cookie_pid from profiles)
),
latest as (
    select cookie_pid, status = 'granted' as consent_granted
    from choices
    qualify row_number() over (
        partition by cookie_pid order by recorded_at desc, (status = 'withdrawn') desc
    ) = 1
),
first_grant as (
    select
        cookie_pid,
        cast(timezone($timezone, timezone('UTC', min(recorded_at))) as date) as granted_on
    from choices
    where status = 'granted'
    group by cookie_pid
),
minors as (
    select distinct b.cookie_pid
    from stg_browsing_pairs as b
    inner join work.stg_customers as c on c.user_pid = b.customer_pid
    where c.is_minor and b.cookie_pid in (select cookie_pid from profiles)
),
other_pseudonyms as (
    select user_pid as pid from work.stg_customers
    union all
    select subject_pid from work.stg_consents
    union all
    select customer_pid from work.stg_requests
    union all
    select request_pid from work.stg_requests
    union all
    select order_pid from work.stg_orders
    union all
    select cookie_pid from stg_browsing_sessions
    union all
    select session_pid from stg_browsing_sessions
),
clashes as (
    select distinct o.pid
    from other_pseudonyms as o
    semi join profiles as p on p.ad_pid = o.pid
)

select
    p.ad_pid,
    coalesce(l.consent_granted, false) as consent_granted,
    f.granted_on as first_granted_on,
    cast(
        f.granted_on + (to_years($lifetime_years) + to_months($lifetime_months))
        + to_days($lifetime_days) as date
    ) as first_grant_expires_on,
    m.cookie_pid is not null as is_minor,
    x.pid is not null or p.ad_pid = p.cookie_pid as ad_pid_is_other_pseudonym
from profiles as p
left join latest as l on l.cookie_pid = p.cookie_pid
left join first_grant as f on f.cookie_pid = p.cookie_pid
left join minors as m on m.cookie_pid = p.cookie_pid
left join clashes as x on x.pid = p.ad_pid;
