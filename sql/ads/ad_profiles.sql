-- Ad profiles and segments (issue 27) from the gate's decisions (gate_ad_cookies), the cookies'
-- interests (ad_signals.feat_ad_interests, computed by features/interests.sql) and the segments
-- of kalido/ad_segments.yaml (ad_segment_rules, registered from Python), keyed by the ad
-- pseudonym (ad_pid_map, registered from Python: kalido/pseudonyms.py says why its own domain).

-- One row per cookie that may be profiled: demographics only where the gate allows them, its top
-- interests (category paths, decayed share of its interest), its grant and expiry dates.
create or replace temp table ad_profile_base as
with interests as (
    select
        user_pid as cookie_pid,
        list(
            struct_pack(category_path := category_path, score := score) order by rank
        ) as interests
    from ad_signals.feat_ad_interests
    where rank <= $interests_per_profile
    group by user_pid
)

select
    g.cookie_pid,
    m.ad_pid,
    g.age_band,
    g.gender,
    coalesce(i.interests, []) as interests,
    g.granted_on,
    g.expires_on
from gate_ad_cookies as g
inner join ad_pid_map as m on m.cookie_pid = g.cookie_pid
left join interests as i on i.cookie_pid = g.cookie_pid
where g.may_profile;

-- A top interest meets a rule's category when it lies in its subtree: each interest is spelled
-- at every level ('Maison', 'Maison > Cuisine', 'Maison > Cuisine > Cafetières') and matched by
-- equality, so the rules' paths join as keys.
create or replace temp table ad_interest_hits as
with interest_levels as (
    select
        p.cookie_pid,
        i.interest.category_path,
        i.interest.score,
        unnest(
            list_transform(
                range(1, len(string_split(i.interest.category_path, ' > ')) + 1),
                n -> array_to_string(string_split(i.interest.category_path, ' > ')[1:n], ' > ')
            )
        ) as level_path
    from ad_profile_base as p,
        unnest(p.interests) as i (interest)
),
rule_paths as (
    select segment_id, unnest(interests) as rule_path
    from ad_segment_rules
)

select
    l.cookie_pid,
    r.segment_id,
    list(distinct l.category_path order by l.category_path) as matched_interests
from interest_levels as l
inner join rule_paths as r on r.rule_path = l.level_path
group by l.cookie_pid, r.segment_id;

-- Every segment a profile meets, with why (the profile's values its rule matched), before the
-- minimum size is applied.
create or replace temp table ad_segment_members as
select
    p.cookie_pid,
    p.ad_pid,
    s.segment_id,
    concat_ws(
        '; ',
        case when len(s.age_bands) > 0 then 'age band ' || p.age_band end,
        case when len(s.genders) > 0 then 'gender ' || p.gender end,
        case
            when len(s.interests) > 0
                then 'top interest ' || array_to_string(h.matched_interests, ', ')
        end
    ) as reason
from ad_profile_base as p
cross join ad_segment_rules as s
left join ad_interest_hits as h on h.cookie_pid = p.cookie_pid and h.segment_id = s.segment_id
where
    (len(s.age_bands) = 0 or list_contains(s.age_bands, p.age_band))
    and (len(s.genders) = 0 or list_contains(s.genders, p.gender))
    and (len(s.interests) = 0 or h.segment_id is not null);

-- Exact sizes; a segment under the policy's minimum is kept here (counted, marked) but neither
-- published nor exported, and no profile lists it (k-anonymity for audiences).
create or replace table feat_ad_segments as
select
    s.segment_id,
    s.name,
    s.rule,
    count(m.cookie_pid) as size,
    count(m.cookie_pid) >= $segment_min_size as published
from ad_segment_rules as s
left join ad_segment_members as m on m.segment_id = s.segment_id
group by s.segment_id, s.name, s.rule
order by s.segment_id;

create or replace table feat_ad_memberships as
select m.ad_pid, m.segment_id, m.reason, m.cookie_pid
from ad_segment_members as m
semi join feat_ad_segments as s on s.segment_id = m.segment_id and s.published
order by m.ad_pid, m.segment_id;

-- cookie_pid stays in the work database (subject access finds a person's profile through it);
-- the warehouse and the export get the ad pseudonym only.
create or replace table feat_ad_profiles as
with segments as (
    select cookie_pid, list(segment_id order by segment_id) as segments
    from feat_ad_memberships
    group by cookie_pid
)

select
    p.ad_pid,
    p.age_band,
    p.gender,
    p.interests,
    coalesce(s.segments, []) as segments,
    p.granted_on,
    p.expires_on,
    p.cookie_pid
from ad_profile_base as p
left join segments as s on s.cookie_pid = p.cookie_pid
order by p.ad_pid;
