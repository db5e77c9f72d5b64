-- Each recipient of tonight's feed once, with the keyed pseudonym recipients.csv gives them and
-- removals.csv names them by (kalido_recipient_pid: suppression.recipient_pseudonym, registered
-- by publish). Computed once per recipient, not once per row.
create or replace temp table feed_recipients as
select customer_id, kalido_recipient_pid(customer_id) as recipient_pid
from (select distinct customer_id from email_feed);
