-- Personal recommendations: products similar to what the user viewed recently (recency-weighted),
-- then popular products of the user's favourite categories, then popular products overall, so
-- that every eligible user gets a full list. Never out of stock, never bought in the last
-- $exclude_bought_days days.
create or replace table feat_recommendations as
with recent_views as (
    select
        user_pid,
        product_id,
        pow(0.5, date_diff('second', viewed_at, $cutoff) / 86400.0 / $half_life_days) as recency
    from feat_views_recent
),
popularity as (
    select e.product_id, count(distinct e.user_pid) as users
    from gated_events as e
    where
        e.event_type in ('product_view', 'add_to_cart')
        and e.event_time >= $cutoff - interval 30 day
    group by e.product_id
),
recommendable as (
    select p.product_id, p.category, coalesce(pop.users, 0) as users
    from stg_products as p
    left join popularity as pop on pop.product_id = p.product_id
    where p.in_stock
),
from_similar as (
    select v.user_pid, s.similar_product_id as product_id,
        sum(v.recency * s.score) as score,
        arg_max(v.product_id, v.recency * s.score) as because_viewed
    from recent_views as v
    inner join feat_product_similarity as s on s.product_id = v.product_id
    group by v.user_pid, s.similar_product_id
),
category_top as (
    select product_id, category, users
    from recommendable
    qualify row_number() over (partition by category order by users desc, product_id) <= $per_user
),
from_categories as (
    select i.user_pid, c.product_id, 0.1 * i.score * c.users / greatest(max(c.users) over (), 1) as score,
        i.category
    from feat_interest_profiles as i
    inner join category_top as c on c.category = i.category
    where i.rank <= 3
),
global_top as (
    select product_id, category, users
    from recommendable
    order by users desc, product_id
    limit $per_user + 50
),
users as (
    select user_pid from gate_customers where may_profile
),
from_global as (
    select u.user_pid, g.product_id, 0.001 * g.users / greatest(max(g.users) over (), 1) as score, g.category
    from users as u
    cross join global_top as g
),
candidates as (
    select user_pid, product_id, score, 'because_viewed' as reason_type, because_viewed as reason
    from from_similar
    union all
    select user_pid, product_id, score, 'popular_in', category from from_categories
    union all
    select user_pid, product_id, score, 'popular_in', category from from_global
),
recently_bought as (
    select distinct user_pid, product_id
    from gated_orders
    where ordered_at >= $cutoff - to_days($exclude_bought_days) and status <> 'cancelled'
),
scored as (
    select
        c.user_pid,
        c.product_id,
        sum(c.score) as score,
        arg_max(c.reason_type || ':' || c.reason, c.score) as reason
    from candidates as c
    inner join recommendable as r on r.product_id = c.product_id
    anti join recently_bought as b on b.user_pid = c.user_pid and b.product_id = c.product_id
    group by c.user_pid, c.product_id
)
select
    user_pid,
    row_number() over (partition by user_pid order by score desc, product_id) as rank,
    product_id,
    round(score, 6) as score,
    reason
from scored
qualify rank <= $per_user
order by user_pid, rank;
