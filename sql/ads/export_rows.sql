-- The ad server's export (exports/ad_segments/dt=D/): published segments and their members, by
-- ad pseudonym only. Publish writes these rows and validate checks the same rows (the work
-- database attached as `work`).
create or replace temp table ad_export_segments as
select segment_id, name, size
from work.feat_ad_segments
where published;

create or replace temp table ad_export_memberships as
select m.ad_pid, m.segment_id
from work.feat_ad_memberships as m
semi join ad_export_segments as s on s.segment_id = m.segment_id;
