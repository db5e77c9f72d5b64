-- One email feed, read as publish writes it (CSV with a header; every value kept as text, so
-- the rows written back keep their bytes), marking the rows of $customer_ids (lower-cased,
-- trimmed) to leave it.
create or replace temp table feed_rows as
select *, coalesce(lower(trim(customer_id)) in (select unnest($customer_ids)), false) as _erased
from read_csv(
    $path, header = true, all_varchar = true, allow_quoted_nulls = false,
    hive_partitioning = false
);
