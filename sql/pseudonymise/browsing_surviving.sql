-- Partitions that only lost rows since their staging was written (erasure, retention): the
-- event ids still in raw, by which the staged partition is filtered instead of rebuilt.
create or replace table stg_browsing_surviving as
select _partition_date, event_id
from raw_browsing
where _partition_date in (select unnest($shrunk_partitions::date[]));
