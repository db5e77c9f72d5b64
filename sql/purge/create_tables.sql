-- Erased subjects, as keyed tags under the non-rotating suppression secret: no raw identifier.
create table if not exists suppression_list (
    domain varchar not null, tag varchar not null, since date not null,
    primary key (domain, tag)
);
-- A landing file rewritten by an erasure keeps its file_id (the lineage of its raw rows); its new
-- sha256 goes in the ledger so that ingest-once still knows it.
alter table ingest_ledger add column if not exists rows_erased bigint default 0;
alter table ingest_ledger add column if not exists rewritten_on date;
alter table ingest_ledger add column if not exists removed_on date;
-- What each purge removed, per store (counts only), published as the warehouse purge_log.
create table if not exists purge_log (
    logical_date date not null, run_id varchar not null, store varchar not null,
    rows_removed bigint not null, files_removed bigint not null, files_rewritten bigint not null,
    rows_archived bigint not null
);
-- What the next compaction removes from the files (issue 25; raw browsing rows: see
-- raw_browsing.py): the needles to look for in landing files, with the date their bytes are due
-- (the compaction runs a policy lead before the earliest), and the landing files holding them.
create table if not exists pending_needles (
    domain varchar not null, needle varchar not null, due_on date not null
);
create table if not exists pending_landing_files (file_id varchar primary key);
-- The day through which a retention rule applied ahead has removed everything (purge.py).
create table if not exists retention_horizons (
    rule varchar primary key, removed_through date not null
);
-- Cookies removed ahead of the end of their period (purge/retention_cookies.sql) until then:
-- their logged-out events that still arrive go the night they land.
create table if not exists cookies_removed_ahead (
    cookie_id varchar primary key, ends_by date not null
);
