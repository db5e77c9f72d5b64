-- One staged partition's {summary} summary (summary_macros.sql), from its file $events, to
-- $target. Written with the partition, so that a night groups the history's pairs and sessions
-- from these rows, not from every event (browsing_summaries.sql).
set variable partition_events_file = $events;

create or replace temp view partition_events as
select *
from read_parquet(getvariable('partition_events_file'), hive_partitioning = false);

copy (
    from browsing_{summary}_of('partition_events')
) to $target (format parquet, compression zstd);
