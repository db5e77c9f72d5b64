-- The ad profiles publish is about to copy, with the checks re-derived from staging
-- (ad_cookie_checks, validate/ad_cookie_checks.sql) and the segments each lists that are not
-- published (there must be none).
with unpublished as (
    select l.ad_pid, count(*) as segments
    from (select ad_pid, unnest(segments) as segment_id from work.feat_ad_profiles) as l
    anti join work.feat_ad_segments as s on s.segment_id = l.segment_id and s.published
    group by l.ad_pid
),
final as (
    select
        p.ad_pid,
        p.age_band,
        p.gender,
        cast(p.granted_on as timestamp) as granted_on,
        cast(p.expires_on as timestamp) as expires_on,
        coalesce(c.consent_granted, false) as consent_granted,
        coalesce(c.is_minor, true) as is_minor,
        coalesce(c.ad_pid_is_other_pseudonym, true) as ad_pid_is_other_pseudonym,
        coalesce(c.first_granted_on = p.granted_on, false) as granted_on_is_first_grant,
        coalesce(c.first_grant_expires_on = p.expires_on, false) as expires_on_follows_first_grant,
        coalesce(u.segments, 0) as unpublished_segments,
        array_to_string(list_transform(p.interests, i -> i.category_path), ' | ') as interests,
        array_to_string(p.segments, ' ') as segments
    from work.feat_ad_profiles as p
    left join ad_cookie_checks as c on c.ad_pid = p.ad_pid
    left join unpublished as u on u.ad_pid = p.ad_pid
)

select * from final;
