-- Interests with the position of each row in its user's list (ranks must be 1, 2, 3, ...).
select
    user_pid,
    category,
    score,
    rank,
    row_number() over (partition by user_pid order by rank, category) as rank_position,
    coalesce(isfinite(score), false) as score_is_finite
from work.feat_interest_profiles;
