create table views_recent as
select user_pid, product_id, viewed_at
from work.feat_views_recent
order by user_pid, viewed_at desc, product_id;
