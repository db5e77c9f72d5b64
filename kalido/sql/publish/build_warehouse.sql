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

create table pipeline_runs (
    run_id varchar primary key, logical_date date not null, started_at timestamptz,
    finished_at timestamptz, status varchar not null, key_version integer,
    rows_read bigint, rows_loaded bigint, rows_quarantined bigint, duplicates_dropped bigint,
    eligible_users bigint, recommendations bigint, feed_recipients bigint,
    stage_counts json, error varchar,
    warnings json  -- failed warning-level expectations of the run (names and counts only)
);

-- Data-subject requests and what was done (pseudonyms, dates, counts per store; no identifier:
-- a request id is the sender's free text, so only its keyed pseudonym is published).
create table request_log as
select
    request_pid, type, purpose, customer_pid, received_at, due_on, completed_on, status,
    rows_affected, note
from raw.request_log
order by received_at, request_pid;

-- What each purge removed per store (counts only).
create table purge_log as
select logical_date, run_id, store, rows_removed, files_removed, files_rewritten, rows_archived
from raw.purge_log
order by logical_date, run_id, store;
