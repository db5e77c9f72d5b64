create table ad_segments as
select segment_id, name, rule, size
from work.feat_ad_segments
where published
order by segment_id;
