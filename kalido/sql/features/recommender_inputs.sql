-- Integer codes for kalido/recommender.py: products, categories, eligible users, then the
-- similarity input (views and add-to-carts by session, order lines by order, sorted by group then
-- time) and each user's recent history (the retained views, add-to-carts, orders).
create or replace temp table rec_items as
select
    row_number() over (order by product_id) - 1 as item,
    product_id,
    coalesce(category, '') as category,
    coalesce(in_stock, false) as in_stock
from stg_products;

create or replace temp table rec_categories as
select row_number() over (order by category) - 1 as category_code, category
from (select distinct category from rec_items);

create or replace temp table rec_users as
select row_number() over (order by user_pid) - 1 as user_code, user_pid
from gate_customers
where may_profile;

create or replace temp table rec_events as
with behaviour as (
    select
        user_pid,
        product_id,
        event_time as happened_at,
        case when event_type = 'product_view' then 0 else 1 end as kind,
        's' || session_pid as grp,
        event_id as tie
    from gated_events
    where event_type in ('product_view', 'add_to_cart')
    union all
    select user_pid, product_id, ordered_at, 2, 'o' || order_pid, lpad(line_no::varchar, 9, '0')
    from gated_orders
    where status <> 'cancelled'
),
coded as (
    select
        u.user_code,
        i.item,
        date_diff('millisecond', b.happened_at, $cutoff) / 86400000.0 as age_days,
        b.kind,
        dense_rank() over (order by b.grp) as grp,
        b.happened_at,
        b.tie
    from behaviour as b
    inner join rec_users as u on u.user_pid = b.user_pid
    inner join rec_items as i on i.product_id = b.product_id
)
select user_code, item, age_days, kind::tinyint as kind, grp
from coded
order by grp, happened_at, tie;

create or replace temp table rec_history as
with signals as (
    select user_pid, product_id, viewed_at as happened_at, 0 as kind
    from feat_views_recent
    union all
    select user_pid, product_id, event_time, 1
    from gated_events
    where event_type = 'add_to_cart'
    union all
    select user_pid, product_id, ordered_at, 2
    from gated_orders
    where status <> 'cancelled'
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
