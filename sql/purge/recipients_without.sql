-- One feed's recipients.csv (customer_id, recipient_pid), read as publish writes it (every value
-- kept as text, so the rows written back keep their bytes), marking the recipients of
-- $customer_ids (lower-cased, trimmed, as feed_without.sql marks their rows) to leave it.
create or replace temp table recipient_rows as
select *, coalesce(lower(trim(customer_id)) in (select unnest($customer_ids)), false) as _erased
from read_csv(
    $path, header = true, all_varchar = true, allow_quoted_nulls = false,
    hive_partitioning = false
);
