-- The similarity input: views and add-to-carts by session, order lines by order, sorted by group
-- then time (needs recommender_codes).
create or replace temp table rec_events as
with behaviour as (
    select
        user_pid,
        product_id,
        event_time as happened_at,
        case when event_type = 'product_view' then $view_kind else $cart_kind end as kind,
        's' || session_pid as grp,
        event_id as tie
    from gated_events
    where event_type in ('product_view', 'add_to_cart')
    union all
    select
        user_pid, product_id, ordered_at, $order_kind, 'o' || order_pid,
        lpad(line_no::varchar, 9, '0')
    from gated_orders
    where status not in (select unnest($ignored_statuses))
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
