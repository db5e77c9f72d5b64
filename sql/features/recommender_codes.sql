-- Integer codes for kalido/recommender.py: products, categories (the same codes in every shard:
-- they depend on the catalogue only) and the eligible users of the gate tables at hand (one
-- shard's, or every shard's for the similarity).
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
