-- Aggregate audience measurement per local day over all visits (counts only, no person-level
-- rows), as first-party audience measurement allows.
-- The local day of every event is looked up by its UTC quarter hour: a time-zone conversion per
-- event cost most of this statement (L, 28M events: 34 s, now 19 s), and local midnights and
-- clock changes fall on whole quarter hours in UTC for every present-day zone.
create or replace table feat_audience_daily as
with quarter_hours as (
    select distinct utc_quarter
    from stg_browsing_sessions
),
local_days as (
    select utc_quarter, cast(timezone($timezone, timezone('UTC', utc_quarter)) as date) as day
    from quarter_hours
),
-- Visitors and visits in one group-by per (day, visitor), on every core, not a distinct count
-- over each whole day: a session's pseudonym is derived from its cookie's, so a visit belongs to
-- one visitor and the day's visits are the sum of its visitors' (L, 30M events: 9 s, now 4.8 s).
-- Read from the sessions summaries (staged.py), not from every event.
visitor_days as (
    select
        l.day,
        s.cookie_pid,
        sum(s.page_views) as page_views,
        sum(s.product_views) as product_views,
        count(distinct s.session_pid) as visits
    from stg_browsing_sessions as s
    inner join local_days as l on l.utc_quarter = s.utc_quarter
    group by l.day, s.cookie_pid
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
