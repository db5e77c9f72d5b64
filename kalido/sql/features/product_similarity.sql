-- Co-viewed products (same session), cosine-normalised on distinct users so that popular items
-- do not swamp the list. A pair is kept only when at least $min_users distinct people support
-- it, so no published pair reveals one person's behaviour.
create or replace table feat_product_similarity as
with session_items as (
    select distinct e.user_pid, e.session_pid, e.product_id
    from gated_events as e
    inner join stg_products as p on p.product_id = e.product_id
    where e.event_type in ('product_view', 'add_to_cart')
),
item_users as (
    select product_id, count(distinct user_pid) as users
    from session_items
    group by product_id
),
pairs as (
    select a.product_id, b.product_id as similar_product_id, count(distinct a.user_pid) as users
    from session_items as a
    inner join session_items as b
        on a.session_pid = b.session_pid and a.product_id <> b.product_id
    group by a.product_id, b.product_id
    having count(distinct a.user_pid) >= $min_users
),
scored as (
    select
        pairs.product_id,
        pairs.similar_product_id,
        pairs.users / sqrt(ia.users * ib.users) as score
    from pairs
    inner join item_users as ia on ia.product_id = pairs.product_id
    inner join item_users as ib on ib.product_id = pairs.similar_product_id
    inner join stg_products as target on target.product_id = pairs.similar_product_id
    where target.in_stock
)
select
    product_id,
    similar_product_id,
    round(score, 6) as score,
    row_number() over (partition by product_id order by score desc, similar_product_id) as rank
from scored
qualify rank <= $per_product
order by product_id, rank;
