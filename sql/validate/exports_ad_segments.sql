-- The ad server's export rows publish is about to write (ad_export_memberships and
-- ad_export_segments, from ads/export_rows.sql), one row per membership with its segment, and
-- each member's state re-derived from staging (ad_cookie_checks).
with members as (
    select segment_id, count(*) as members
    from ad_export_memberships
    group by segment_id
),
final as (
    select
        m.ad_pid,
        s.segment_id,
        s.name,
        s.size,
        s.size = coalesce(k.members, 0) as size_is_member_count,
        cast(p.expires_on as timestamp) as expires_on,
        coalesce(c.consent_granted, false) as consent_granted,
        coalesce(c.is_minor, true) as is_minor,
        coalesce(c.ad_pid_is_other_pseudonym, true) as ad_pid_is_other_pseudonym
    -- From the segments: a segment without a member is a row too (it fails the checks).
    from ad_export_segments as s
    left join ad_export_memberships as m on m.segment_id = s.segment_id
    left join members as k on k.segment_id = s.segment_id
    left join work.feat_ad_profiles as p on p.ad_pid = m.ad_pid
    left join ad_cookie_checks as c on c.ad_pid = m.ad_pid
)

select * from final;
