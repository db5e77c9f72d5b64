-- The (cookie, customer) pairs and the sessions of stg_browsing (summary_macros.sql), read from
-- the partitions' summaries ($pairs_files, $sessions_files) less the pairs pending an erasure's
-- compaction ($pending_pairs: pending_pairs.sql; an empty file while none is), and computed
-- from stg_browsing_live (the partitions a cutoff cuts, or whose summaries are missing or from
-- other SQL) for the rest. The same rows as grouping stg_browsing itself, from a fraction of
-- the rows (S, 60 days: 0.5M pairs and 1.1M sessions against 5.7M events).
set variable stg_browsing_pairs_files = $pairs_files;

set variable stg_browsing_sessions_files = $sessions_files;

set variable stg_browsing_pending_pairs = $pending_pairs;

create or replace temp view stg_browsing_pairs as
with pairs as (
    select s.*
    from read_parquet(getvariable('stg_browsing_pairs_files'), hive_partitioning = false) as s
    anti join read_parquet(getvariable('stg_browsing_pending_pairs')) as p
        on
            p.cookie_pid is not distinct from s.cookie_pid
            and p.customer_pid is not distinct from s.customer_pid
    union all
    from browsing_pairs_of('stg_browsing_live')
)

select cookie_pid, customer_pid, min(first_at) as first_at, max(last_at) as last_at
from pairs
group by cookie_pid, customer_pid;

-- One row per (quarter hour, cookie, customer, session) and partition: a session seen in two
-- partitions has a row in each, so readers sum the views and count sessions distinct.
create or replace temp view stg_browsing_sessions as
select s.*
from read_parquet(getvariable('stg_browsing_sessions_files'), hive_partitioning = false) as s
anti join read_parquet(getvariable('stg_browsing_pending_pairs')) as p
    on
        p.cookie_pid is not distinct from s.cookie_pid
        and p.customer_pid is not distinct from s.customer_pid
union all
from browsing_sessions_of('stg_browsing_live');
