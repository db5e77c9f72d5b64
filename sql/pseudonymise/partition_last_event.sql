-- A summarised partition's last event time (null: no events), from its pairs summary: a summary
-- stands for the partition only while a stage's cutoff cuts none of its events.
select max(last_at) as last_event_at
from read_parquet($pairs, hive_partitioning = false);
