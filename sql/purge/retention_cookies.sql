-- The cookie rules of raw_browsing and raw_consents (policy.yaml), applied ahead: every cookie
-- whose period ends by $removed_through goes now, which may be up to cookie_expiry_ahead_days
-- early, so that a night rewrites the browsing files for them about once a week, not every night
-- (purge.py). Reads ad_cookies (purge/ad_cookies.sql).

-- first_ad_grant: a cookie that is nobody's account cookie and whose advertising cookie was
-- placed (first ad_profiling grant) more than 13 months before goes whole; the logged-out events
-- it still sends until its period ends go as they land (purge/cookie_arrivals.sql).
insert or replace into cookies_removed_ahead
select cookie_id, $removed_through from ad_cookies where placed_at < $ad_since;

insert into raw_browsing_removed
select _partition_date, _file_id, _row
from raw_browsing
where cookie_id in (select cookie_id from ad_cookies where placed_at < $ad_since);

delete from raw_consents
where
    subject_type = 'cookie'
    and subject_id in (select cookie_id from ad_cookies where placed_at < $ad_since);

-- raw_consents / event: other cookie choices go 13 months after the cookie's last choice, once no
-- event of the cookie is held (while events are held, a withdrawal must keep protecting them).
delete from raw_consents
where
    subject_type = 'cookie'
    and subject_id not in (select cookie_id from raw_browsing)
    and subject_id in (
        select subject_id from raw_consents
        where subject_type = 'cookie'
        group by subject_id
        having max(recorded_at) < $cookie_choice_since
    );

insert or replace into retention_horizons values ('cookies', $removed_through);
