-- The two summaries of staged browsing, as table macros over a named table or view ($events is
-- its name): written per partition beside it (partition_summary.sql) and computed for the
-- partitions no summary stands for (browsing_summaries.sql), by this one definition.

-- Each (cookie, customer) pair's first and last event: the gate's cookie links and last visits,
-- the ads gate's shared devices.
create or replace temp macro browsing_pairs_of(events) as table
    select cookie_pid, customer_pid, min(event_time) as first_at, max(event_time) as last_at
    from query_table(events)
    group by cookie_pid, customer_pid;

-- Page and product views per (UTC quarter hour, cookie, customer, session): the audience
-- measurement and the ad pseudonym checks. The quarter hour, not the local day: the day is the
-- business time zone's, and local midnights fall on whole UTC quarter hours (audience_daily.sql).
-- The customer too: rows pending an erasure are whole (cookie, customer) pairs, not sessions.
create or replace temp macro browsing_sessions_of(events) as table
    select
        time_bucket(interval 15 minutes, event_time) as utc_quarter,
        cookie_pid,
        customer_pid,
        session_pid,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'product_view') as product_views
    from query_table(events)
    group by utc_quarter, cookie_pid, customer_pid, session_pid;
