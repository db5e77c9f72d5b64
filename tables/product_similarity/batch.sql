-- Similar products with the self-pair flag and each row's position in its product's list, for a
-- seeded sample of $sample_lists products' whole lists.
with sampled as (
    select *
    from work.feat_product_similarity
    where product_id in (
        select product_id
        from work.feat_product_similarity
        group by product_id
        order by hash(product_id, $sample_seed)
        limit $sample_lists
    )
)

select
    product_id,
    similar_product_id,
    score,
    rank,
    product_id = similar_product_id as is_self,
    row_number() over (partition by product_id order by rank, similar_product_id) as rank_position,
    coalesce(isfinite(score), false) as score_is_finite
from sampled;
