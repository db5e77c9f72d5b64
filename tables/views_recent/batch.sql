-- Recent views with each user's number of views (the per-user cap is checked on that count), for
-- a seeded sample of $sample_lists users' whole windows.
with sampled as (
    select *
    from work.feat_views_recent
    where user_pid in (
        select user_pid
        from work.feat_views_recent
        group by user_pid
        order by hash(user_pid, $sample_seed)
        limit $sample_lists
    )
)

select
    user_pid,
    product_id,
    viewed_at,
    count(*) over (partition by user_pid) as views_of_user
from sampled;
