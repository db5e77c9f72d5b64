-- The ads stage's counts for the run record and summary (a cookie may have several reasons).
select
    count(*) as ad_cookies,
    count(*) filter (where may_profile) as ad_profiles,
    count(*) filter (where not granted) as ad_excluded_no_consent,
    count(*) filter (where expired) as ad_excluded_expired,
    count(*) filter (where minor) as ad_excluded_minor,
    count(*) filter (where stopped_by_customer) as ad_excluded_customer_request,
    count(*) filter (where may_profile and age_band is not null) as ad_profiles_with_demographics,
    (select count(*) filter (where published) from feat_ad_segments) as ad_segments_published,
    (select count(*) filter (where not published) from feat_ad_segments) as ad_segments_suppressed,
    (select count(*) from feat_ad_memberships) as ad_memberships
from gate_ad_cookies;
