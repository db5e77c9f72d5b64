-- Advertising (kalido/pipelines/ads.py): cookies that may be profiled on the logical
-- date, by their ad pseudonym only (its own domain, joinable to no user_pid), and the segments of
-- at least the policy's segment_min_size; a smaller segment appears in neither table.
create table ad_profiles as
select ad_pid, age_band, gender, interests, segments, granted_on, expires_on
from work.feat_ad_profiles
order by ad_pid;
