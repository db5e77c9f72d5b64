-- The recipients an erasure rewrite takes out of a feed (recipient_rows: its recipients.csv, see
-- recipients_without.sql, or the CSV's own column in a feed written before that file): their
-- needle (for the reason class) and the recipient pseudonym the feed gave the email platform.
select distinct lower(trim(customer_id)) as needle, recipient_pid
from recipient_rows
where _erased
order by needle, recipient_pid;
