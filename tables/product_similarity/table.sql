create table product_similarity as
select product_id, similar_product_id, score, rank
from work.feat_product_similarity
order by product_id, rank;
