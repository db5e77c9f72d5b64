-- The recipients an erasure rewrite takes out of a feed (feed_rows, see feed_without.sql): their
-- needle (for the reason class) and the recipient pseudonym the feed gave the email platform.
select distinct lower(trim(customer_id)) as needle, recipient_pid
from feed_rows
where _erased
order by needle, recipient_pid;
