-- Interests with the position of each row in its user's list (ranks must be 1, 2, 3, ...), for
-- a seeded sample of $sample_lists users' whole lists.
with sampled as (
    select *
    from work.feat_interest_profiles
    where user_pid in (
        select user_pid
        from work.feat_interest_profiles
        group by user_pid
        order by hash(user_pid, $sample_seed)
        limit $sample_lists
    )
)

select
    user_pid,
    category,
    score,
    rank,
    row_number() over (partition by user_pid order by rank, category) as rank_position,
    coalesce(isfinite(score), false) as score_is_finite
from sampled;
