-- The similarity (registered Arrow tables sim_codes, popularity_codes, weight_codes) as the
-- published feature table, and unrounded in product codes for the shards' recommend stage (codes
-- depend only on the catalogue, see recommender_codes), with the weights learned tonight.
create or replace table feat_product_similarity as
select
    a.product_id,
    b.product_id as similar_product_id,
    round(s.score, 6) as score,
    s.rank
from sim_codes as s
inner join rec_items as a on a.item = s.src
inner join rec_items as b on b.item = s.dst
order by a.product_id, s.rank;

create or replace table rec_similarity as
select src, dst, score, rank
from sim_codes
order by src, rank;

create or replace table rec_popularity as
select item, popularity, trend
from popularity_codes
order by item;

create or replace table rec_weights as
select name, value
from weight_codes
order by name;
