-- Cookies that are nobody's account cookie, with the placement of their advertising cookie (the
-- first ad_profiling grant): the first_ad_grant clock of raw_browsing and raw_consents. Read by
-- purge/retention_cookies.sql, which applies the clock, and report/retention_raw.sql.
create or replace temp table ad_cookies as
with first_grant as (
    select subject_id as cookie_id, min(recorded_at) as placed_at
    from raw_consents
    where subject_type = 'cookie' and purpose = 'ad_profiling' and status = 'granted'
    group by subject_id
),

account_cookies as (
    select distinct cookie_id from raw_browsing where customer_id is not null
)

select f.cookie_id, f.placed_at
from first_grant as f
anti join account_cookies as a on a.cookie_id = f.cookie_id;
