-- The landing days of the rows pending an erasure's compaction ($pending, browsing_pending.sql):
-- their partitions' summaries still count those rows, so stg_browsing_live reads them instead.
select distinct _partition_date
from read_parquet($pending, hive_partitioning = false);
