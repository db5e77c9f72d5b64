-- What eligible users did in [$split, $end) on products new to them (none of their history
-- before the split: the email is for discovery), from the test run's gated tables (attached as
-- te), coded with the training run's users and products (temp tables rec_users, rec_items).
create or replace temp table eval_truth as
with behaviour as (
    select user_pid, product_id
    from te.gated_events
    where
        event_type in ('product_view', 'add_to_cart')
        and event_time >= $split and event_time < $end
    union
    select user_pid, product_id
    from te.gated_orders
    where
        status not in (select unnest($ignored_statuses))
        and ordered_at >= $split and ordered_at < $end
)
select distinct u.user_code, i.item
from behaviour as b
inner join rec_users as u on u.user_pid = b.user_pid
inner join rec_items as i on i.product_id = b.product_id
where
    u.user_code in (select distinct user_code from rec_history)
    and (u.user_code, i.item) not in (select (user_code, item) from rec_history)
order by u.user_code, i.item;

-- Next product viewed in the same session (consecutive repeats of one product collapsed).
create or replace temp table eval_next as
with views as (
    select session_pid, product_id, event_time, event_id
    from te.gated_events
    where event_type = 'product_view' and event_time >= $split and event_time < $end
),
ordered as (
    select
        session_pid,
        product_id,
        lead(product_id) over (partition by session_pid order by event_time, event_id) as next_id
    from views
)
select c.item as current_item, n.item as next_item
from ordered as o
inner join rec_items as c on c.product_id = o.product_id
inner join rec_items as n on n.product_id = o.next_id
where o.next_id <> o.product_id
order by all;

create or replace temp table eval_kalido_recs as
select u.user_code, r.rank, i.item
from feat_recommendations as r
inner join rec_users as u on u.user_pid = r.user_pid
inner join rec_items as i on i.product_id = r.product_id
where u.user_code in (select distinct user_code from eval_truth);

create or replace temp table eval_kalido_similar as
select a.item as src, s.rank, b.item as dst
from feat_product_similarity as s
inner join rec_items as a on a.product_id = s.product_id
inner join rec_items as b on b.product_id = s.similar_product_id;
