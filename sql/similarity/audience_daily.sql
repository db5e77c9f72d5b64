-- Aggregate audience measurement per local day over all visits (counts only, no person-level
-- rows), as first-party audience measurement allows.
-- The local day of every event is looked up by its UTC quarter hour: a time-zone conversion per
-- event cost most of this statement (L, 28M events: 34 s, now 19 s), and local midnights and
-- clock changes fall on whole quarter hours in UTC for every present-day zone.
create or replace table feat_audience_daily as
with quarter_hours as (
    select distinct time_bucket(interval 15 minutes, event_time) as utc_quarter
    from stg_browsing
),
local_days as (
    select utc_quarter, cast(timezone($timezone, timezone('UTC', utc_quarter)) as date) as day
    from quarter_hours
),
events as (
    select l.day, b.event_type, b.session_pid, b.cookie_pid
    from stg_browsing as b
    inner join local_days as l on l.utc_quarter = time_bucket(interval 15 minutes, b.event_time)
),
-- Visitors and visits in one group-by per (day, visitor), on every core, not a distinct count
-- over each whole day: a session's pseudonym is derived from its cookie's, so a visit belongs to
-- one visitor and the day's visits are the sum of its visitors' (L, 30M events: 9 s, now 4.8 s).
visitor_days as (
    select
        day,
        cookie_pid,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(distinct session_pid) as visits
    from events
    group by day, cookie_pid
),
first_seen as (
    select cookie_pid, min(day) as first_day
    from visitor_days
    group by cookie_pid
)

select
    v.day,
    sum(v.page_views)::bigint as page_views,
    sum(v.product_views)::bigint as product_views,
    sum(v.visits)::bigint as visits,
    count(*) as visitors,
    count(*) filter (where f.first_day < v.day) as returning_visitors
from visitor_days as v
inner join first_seen as f on f.cookie_pid = v.cookie_pid
group by v.day
order by v.day;
