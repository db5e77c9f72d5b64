-- The oldest row each timed retention rule of the restricted tables still holds, and how many are
-- past the rule ($since_<store>_<clock>: the cutoff of the rule as of the same day). Each rule is
-- measured as purge/retention_raw.sql and retention_cookies.sql apply it (the first_ad_grant
-- clock from their ad_cookies); the last_activity rules are measured in retention_customers.sql.

create or replace temp table report_browsing_cookies as
select distinct cookie_id from raw_browsing;

create or replace temp table report_retention_raw as
with cookie_choices as (
    -- A cookie's other choices go 13 months after its last one, once no event of it is held.
    select c.subject_id, max(c.recorded_at) as last_choice_at
    from raw_consents as c
    anti join report_browsing_cookies as b on b.cookie_id = c.subject_id
    where c.subject_type = 'cookie'
    group by c.subject_id
),

snapshots as (
    -- A catalogue snapshot's clock starts when the next one arrives.
    select
        _partition_date as snapshot_on,
        lead(_partition_date) over (order by _partition_date) as superseded_on
    from (select distinct _partition_date from raw_products)
),

quarantined as (
    select l.logical_date as ingested_on
    from raw_quarantine as q
    inner join ingest_ledger as l on l.file_id = q._file_id
)

select
    'raw_browsing' as store,
    'event' as clock,
    'events' as unit,
    count(*) as held,
    cast(min(event_time) as timestamp) as oldest,
    count(*) filter (where event_time < $since_raw_browsing_event) as overdue
from raw_browsing
union all
select
    'raw_browsing',
    'first_ad_grant',
    'cookies',
    count(*),
    cast(min(a.placed_at) as timestamp),
    count(*) filter (where a.placed_at < $since_raw_browsing_first_ad_grant)
from ad_cookies as a
semi join report_browsing_cookies as b on b.cookie_id = a.cookie_id
union all
select
    'raw_consents',
    'first_ad_grant',
    'cookies',
    count(*),
    cast(min(placed_at) as timestamp),
    count(*) filter (where placed_at < $since_raw_consents_first_ad_grant)
from ad_cookies
union all
select
    'raw_consents',
    'event',
    'cookies',
    count(*),
    cast(min(last_choice_at) as timestamp),
    count(*) filter (where last_choice_at < $since_raw_consents_event)
from cookie_choices
union all
select
    'raw_quarantine',
    'ingested',
    'rows',
    count(*),
    cast(min(ingested_on) as timestamp),
    count(*) filter (where ingested_on < $since_raw_quarantine_ingested)
from quarantined
union all
select
    'raw_products',
    'superseded',
    'snapshots',
    count(*),
    cast(min(superseded_on) as timestamp),
    count(*) filter (where superseded_on <= $since_raw_products_superseded)
from snapshots
where superseded_on is not null
union all
select
    'ingest_ledger',
    'ingested',
    'files',
    count(*),
    cast(min(logical_date) as timestamp),
    count(*) filter (where logical_date < $since_ingest_ledger_ingested)
from ingest_ledger
union all
select
    'request_log',
    'completed',
    'requests',
    count(completed_on),
    cast(min(completed_on) as timestamp),
    count(*) filter (where completed_on < $since_request_log_completed)
from request_log
union all
select
    'purge_log',
    'event',
    'rows',
    count(*),
    cast(min(logical_date) as timestamp),
    count(*) filter (where logical_date < $since_purge_log_event)
from purge_log;

select store, clock, unit, held, oldest, overdue from report_retention_raw;
