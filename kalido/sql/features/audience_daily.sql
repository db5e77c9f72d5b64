-- Aggregate audience measurement per local day over all visits (counts only, no person-level
-- rows), as first-party audience measurement allows.
create or replace table feat_audience_daily as
with events as (
    select
        cast(timezone($timezone, timezone('UTC', event_time)) as date) as day,
        event_type,
        session_pid,
        cookie_pid
    from stg_browsing
),
first_seen as (
    select cookie_pid, min(day) as first_day
    from events
    group by cookie_pid
)
select
    e.day,
    count(*) filter (where e.event_type = 'page_view') as page_views,
    count(*) filter (where e.event_type = 'product_view') as product_views,
    count(distinct e.session_pid) as visits,
    count(distinct e.cookie_pid) as visitors,
    count(distinct e.cookie_pid) filter (where f.first_day < e.day) as returning_visitors
from events as e
inner join first_seen as f on f.cookie_pid = e.cookie_pid
group by e.day
order by e.day;
