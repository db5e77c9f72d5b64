-- The most recent product views of each eligible user, at most $max_views (policy: 200).
create or replace table feat_views_recent as
select user_pid, product_id, event_time as viewed_at
from gated_events
where event_type = 'product_view'
qualify
    row_number() over (
        partition by user_pid order by event_time desc, product_id, event_id
    ) <= $max_views
order by user_pid, viewed_at desc, product_id;
