-- The (cookie, customer) pairs and the sessions of stg_browsing (summary_macros.sql), read from
-- the partitions' summaries ($pairs_files, $sessions_files) where a summary stands for its
-- partition, and computed from stg_browsing_live (the other partitions: those holding rows
-- pending an erasure's compaction or events past the cutoff) for the rest. The same rows as
-- grouping stg_browsing itself, from a fraction of the rows (S, 60 days: 0.5M pairs and 1.1M
-- sessions against 5.7M events).
set variable stg_browsing_pairs_files = $pairs_files;

set variable stg_browsing_sessions_files = $sessions_files;

create or replace temp view stg_browsing_pairs as
with pairs as (
    from read_parquet(getvariable('stg_browsing_pairs_files'), hive_partitioning = false)
    union all
    from browsing_pairs_of('stg_browsing_live')
)

select cookie_pid, customer_pid, min(first_at) as first_at, max(last_at) as last_at
from pairs
group by cookie_pid, customer_pid;

-- One row per (quarter hour, cookie, session) and partition: a session seen in two partitions
-- has a row in each, so readers sum the views and count sessions distinct.
create or replace temp view stg_browsing_sessions as
from read_parquet(getvariable('stg_browsing_sessions_files'), hive_partitioning = false)
union all
from browsing_sessions_of('stg_browsing_live');
