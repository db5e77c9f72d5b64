-- The analyst warehouse: pseudonymous tables only, explicit columns, deterministic order.
create table products as
select
    product_id, title, category, category_path, top_category, brand, price, currency, in_stock,
    url
from work.stg_products
order by product_id;

create table views_recent as
select user_pid, product_id, viewed_at
from work.feat_views_recent
order by user_pid, viewed_at desc, product_id;

create table interest_profiles as
select user_pid, category, score, rank
from work.feat_interest_profiles
order by user_pid, rank;

create table interest_brands as
select user_pid, brand, score, rank
from work.feat_interest_brands
order by user_pid, rank;

create table product_similarity as
select product_id, similar_product_id, score, rank
from work.feat_product_similarity
order by product_id, rank;

create table recommendations as
select user_pid, rank, product_id, score, reason, reason_type, reason_value
from work.feat_recommendations
order by user_pid, rank;

create table audience_daily as
select day, page_views, product_views, visits, visitors, returning_visitors
from work.feat_audience_daily
order by day;

-- Per-file accounting: rows_read = rows_loaded + rows_quarantined + duplicates_dropped.
-- A landing file name is the sender's free text: its shown form (ingest.shown_path) only.
create table ingest_files as
select
    file_id, source, partition_date, coalesce(shown_path, path) as path, status, rows_read,
    rows_loaded, rows_quarantined, duplicates_dropped, error, dropped_columns, run_id,
    logical_date
from raw.ingest_ledger
order by source, partition_date, path, file_id;

-- Quarantine reasons and counts only; the rows themselves stay in the restricted zone.
create table quarantine_summary as
select source, reason, count(*) as rows
from raw.raw_quarantine
group by source, reason
order by source, reason;

-- The nightly self-check of the recommendations (features/holdout.py), one row per logical date
-- from its latest successful run: HR/MRR@20 on products new to a sample of people in the
-- held-back week, the same for trending popularity (held to the same k), catalogue coverage,
-- the paired HR gap (model - trending) with its 95 % half-width, and the weights used.
create table recommendation_quality (
    logical_date date primary key, run_id varchar not null, users bigint not null,
    hr_at_20 double, mrr_at_20 double, baseline_hr_at_20 double, baseline_mrr_at_20 double,
    coverage double, baseline_coverage double, hr_gap double, hr_gap_ci95 double, weights json
);

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

-- Data-subject requests and what was done (pseudonyms, dates, counts per store; no identifier:
-- a request id is the sender's free text, so only its keyed pseudonym is published).
create table request_log as
select
    request_pid, type, purpose, customer_pid, received_at, due_on, completed_on, status,
    rows_affected, note, bytes_removed_on
from raw.request_log
order by received_at, request_pid;

-- What each purge removed per store (counts only).
create table purge_log as
select logical_date, run_id, store, rows_removed, files_removed, files_rewritten, rows_archived
from raw.purge_log
order by logical_date, run_id, store;

-- Advertising (issue 27, kalido/pipelines/ads.py): cookies that may be profiled on the logical
-- date, by their ad pseudonym only (its own domain, joinable to no user_pid), and the segments of
-- at least the policy's segment_min_size; a smaller segment appears in neither table.
create table ad_profiles as
select ad_pid, age_band, gender, interests, segments, granted_on, expires_on
from work.feat_ad_profiles
order by ad_pid;

create table ad_segments as
select segment_id, name, rule, size
from work.feat_ad_segments
where published
order by segment_id;
