create table recommendations as
select user_pid, rank, product_id, score, reason, reason_type, reason_value
from work.feat_recommendations
order by user_pid, rank;
