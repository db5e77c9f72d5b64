-- The recommender's coded results (registered Arrow table rec_codes, one slice of rows at a time)
-- with product ids, pseudonyms and readable reasons, and the empty table they are appended to.
create or replace temp view rec_named as
with named as (
    select
        r.user_code,
        u.user_pid,
        r.rank,
        i.product_id,
        round(r.score, 6) as score,
        case when r.reason_item >= 0 then 'because_viewed' else 'popular_in' end as reason_type,
        case when r.reason_item >= 0 then seed.product_id else c.category end as reason_value
    from rec_codes as r
    inner join rec_users as u on u.user_code = r.user_code
    inner join rec_items as i on i.item = r.item
    left join rec_items as seed on seed.item = r.reason_item
    left join rec_categories as c on c.category_code = r.reason_category
)
select
    user_code, user_pid, rank, product_id, score, reason_type, reason_value,
    reason_type || ':' || reason_value as reason
from named;

create or replace table feat_recommendations as
select * exclude (user_code) from rec_named
limit 0;
