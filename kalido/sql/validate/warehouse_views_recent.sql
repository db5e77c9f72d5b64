-- Recent views with each user's number of views (the per-user cap is checked on that count).
select
    user_pid,
    product_id,
    viewed_at,
    count(*) over (partition by user_pid) as views_of_user
from work.feat_views_recent;
