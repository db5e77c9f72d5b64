create table interest_profiles as
select user_pid, category, score, rank
from work.feat_interest_profiles
order by user_pid, rank;
