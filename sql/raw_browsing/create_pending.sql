-- Raw browsing rows an erasure removed in effect whose bytes are still in their files, until the
-- next compaction (purge.py): every reader's view of raw_browsing leaves them out. event_id and
-- event_time name the same rows in the staged partitions (see pseudonymise.py).
create table if not exists pending_browsing_rows (
    _partition_date date not null, _file_id varchar not null, _row bigint not null,
    event_id varchar, event_time timestamp
);
