-- Tonight's browsing files (the view holds only them, purge.py): the logged-out events of a
-- cookie removed ahead of the end of its period go as they land; a logged-in one makes it an
-- account cookie, which the first_ad_grant rule keeps.
insert into raw_browsing_removed
select _partition_date, _file_id, _row
from raw_browsing
where customer_id is null and cookie_id in (select cookie_id from cookies_removed_ahead);

delete from cookies_removed_ahead where ends_by < $logical_date;
