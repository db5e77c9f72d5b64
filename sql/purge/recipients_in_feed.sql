-- A feed written before recipients.csv (schema 2) gave each row's recipient pseudonym in the
-- CSV's last column: its recipients are read from feed_rows (see feed_without.sql) instead.
create or replace temp view recipient_rows as
select distinct customer_id, recipient_pid, _erased
from feed_rows;
