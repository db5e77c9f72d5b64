-- What this warehouse was built for: publish compares a run's logical date with it before
-- swapping a new warehouse in (a backfill never replaces a newer date's unless asked to).
create or replace table published_as_of as
select
    cast($logical_date as date) as logical_date,
    cast($run_id as varchar) as run_id,
    cast($published_at as timestamptz) as published_at;
