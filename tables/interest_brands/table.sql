create table interest_brands as
select user_pid, brand, score, rank
from work.feat_interest_brands
order by user_pid, rank;
