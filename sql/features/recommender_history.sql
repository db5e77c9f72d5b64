-- Each user's recent history: the retained views, add-to-carts, orders (needs recommender_codes).
create or replace temp table rec_history as
with signals as (
    select user_pid, product_id, viewed_at as happened_at, $view_kind as kind
    from feat_views_recent
    union all
    select user_pid, product_id, event_time, $cart_kind
    from gated_events
    where event_type = 'add_to_cart'
    union all
    select user_pid, product_id, ordered_at, $order_kind
    from gated_orders
    where status not in (select unnest($ignored_statuses))
)
select
    u.user_code,
    i.item,
    date_diff('millisecond', s.happened_at, $cutoff) / 86400000.0 as age_days,
    s.kind::tinyint as kind
from signals as s
inner join rec_users as u on u.user_pid = s.user_pid
inner join rec_items as i on i.product_id = s.product_id
order by u.user_code, i.item, age_days, kind;
