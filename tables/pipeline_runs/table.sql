create table pipeline_runs (
    run_id varchar primary key, logical_date date not null, started_at timestamptz,
    finished_at timestamptz, status varchar not null, key_version integer,
    rows_read bigint, rows_loaded bigint, rows_quarantined bigint, duplicates_dropped bigint,
    eligible_users bigint,  -- kept for compatibility: equal to may_profile_users
    may_profile_users bigint, may_email_users bigint, recommendations bigint,
    feed_recipients bigint,
    warehouse_published boolean,  -- false: a backfill kept the newer date's warehouse
    stage_counts json, error varchar,
    warnings json  -- failed warning-level expectations of the run (names and counts only)
);
