-- Time-decayed affinity to one product attribute (category or brand, named by the caller) from the
-- retained views, add-to-carts and orders, weighted as the recommender weighs them (policy);
-- products without that attribute do not count.
create or replace table {table} as
with signals as (
    select user_pid, product_id, viewed_at as at, $view_weight as weight
    from feat_views_recent
    union all
    select user_pid, product_id, event_time, $cart_weight
    from gated_events
    where event_type = 'add_to_cart'
    union all
    select user_pid, product_id, ordered_at, $order_weight * quantity
    from gated_orders
    where status not in (select unnest($ignored_statuses))
),
decayed as (
    select
        s.user_pid,
        p.{dimension},
        s.weight * pow(0.5, date_diff('second', s.at, $cutoff) / 86400.0 / $half_life_days)
            as contribution
    from signals as s
    inner join stg_products as p on p.product_id = s.product_id
    where p.{dimension} is not null
),
affinity as (
    select user_pid, {dimension}, sum(contribution) as raw_score
    from decayed
    group by user_pid, {dimension}
)
select
    user_pid,
    {dimension},
    round(raw_score / sum(raw_score) over (partition by user_pid), 6) as score,
    row_number() over (partition by user_pid order by raw_score desc, {dimension}) as rank
from affinity
order by user_pid, rank;
