-- Recommendations with their product's catalogue and stock state and each row's list position,
-- for a seeded sample of $sample_lists users' whole lists (the position needs the whole list, and
-- a retail night has 20M rows: the window over all of them cost more than the checks).
with sampled as (
    select *
    from work.feat_recommendations
    where user_pid in (
        select user_pid
        from work.feat_recommendations
        group by user_pid
        order by hash(user_pid, $sample_seed)
        limit $sample_lists
    )
)

select
    r.user_pid,
    r.rank,
    r.product_id,
    r.score,
    r.reason_type,
    r.reason_value,
    r.reason,
    row_number() over (partition by r.user_pid order by r.rank, r.product_id) as rank_position,
    coalesce(isfinite(r.score), false) as score_is_finite,
    p.product_id is not null as in_catalogue,
    coalesce(p.in_stock, false) as in_stock
from sampled as r
left join work.stg_products as p on p.product_id = r.product_id;
