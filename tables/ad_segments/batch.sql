-- The ad segments publish is about to copy (published ones only), with the number of profiles
-- that list each (its size must be that exact count).
with listed as (
    select unnest(segments) as segment_id
    from work.feat_ad_profiles
),
members as (
    select segment_id, count(*) as profiles
    from listed
    group by segment_id
)

select
    s.segment_id,
    s.name,
    s.rule,
    s.size,
    s.size = coalesce(m.profiles, 0) as size_is_member_count
from work.feat_ad_segments as s
left join members as m on m.segment_id = s.segment_id
where s.published;
