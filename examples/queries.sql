-- Questions a data scientist asks the analyst warehouse, each one query. Open it read-only (a
-- run may publish a new version meanwhile; you keep the one you opened):
--   duckdb -readonly data/warehouse/analytics.duckdb < examples/queries.sql
--   python: duckdb.connect("data/warehouse/analytics.duckdb", read_only=True)
-- What a table or column means: select table_name, column_name, comment from duckdb_columns()
-- where table_name = 'people';  (every one is described, see kalido/warehouse_columns.yaml)
-- tests/test_warehouse_docs.py runs every query of this file against a published warehouse.

-- Which date the warehouse was built for, by which run.
select logical_date, run_id, published_at
from published_as_of;

-- 1. Top categories per age band: the five categories with the most interest among the people
-- of each band who may be profiled (interest = summed profile shares; people = how many have it).
with interests as (
    select p.age_band, i.category, i.score
    from people as p
    inner join interest_profiles as i on i.user_pid = p.user_pid
    where p.may_profile
),
per_band as (
    select age_band, category, count(*) as people, round(sum(score), 2) as interest
    from interests
    group by age_band, category
)
select age_band, category, people, interest
from per_band
qualify row_number() over (partition by age_band order by interest desc, category) <= 5
order by age_band, interest desc, category;

-- 2. How many people may be profiled, how many may be mailed, and why the others are left out
-- (one cause per person, the strongest; null exclusion_cause = may be mailed).
select
    may_profile,
    may_email,
    coalesce(exclusion_cause, '-') as exclusion_cause,
    count(*) as people,
    round(100.0 * count(*) / sum(count(*)) over (), 1) as pct
from people
group by may_profile, may_email, exclusion_cause
order by may_profile desc, may_email desc, people desc;

-- 3. One person's recommendations with their reasons. Pick the person here (any user_pid of
-- people where may_profile); by default the first one with both recommendations and a profile.
set variable person = (
    select min(r.user_pid)
    from recommendations as r
    semi join interest_profiles as i on i.user_pid = r.user_pid
);

select
    r.rank,
    r.product_id,
    p.title,
    p.category,
    round(r.score, 4) as score,
    r.reason_type,
    -- because_viewed names a product: show its title; popular_in names a category
    coalesce(seed.title, r.reason_value) as because_of
from recommendations as r
inner join products as p on p.product_id = r.product_id
left join products as seed
    on r.reason_type = 'because_viewed' and seed.product_id = r.reason_value
where r.user_pid = getvariable('person')
order by r.rank;

-- ... and what the person's profile says, for comparison.
select i.rank, i.category, i.score, pe.age_band, pe.has_history, pe.last_active_day
from interest_profiles as i
inner join people as pe on pe.user_pid = i.user_pid
where i.user_pid = getvariable('person')
order by i.rank;

-- 4. Quality over time: per run, volumes, the gate, the feed, quarantine share, warnings and
-- duration (pipeline_runs; the newest run of a date is the one that counts).
select
    logical_date,
    run_id,
    status,
    warehouse_published,
    rows_read,
    round(100.0 * rows_quarantined / nullif(rows_read, 0), 2) as quarantined_pct,
    may_profile_users,
    may_email_users,
    recommendations,
    feed_recipients,
    json_array_length(warnings) as warnings,
    round(epoch(finished_at - started_at), 1) as seconds
from pipeline_runs
order by started_at;

-- ... and the recommendations' nightly self-check against trending popularity.
select logical_date, users, hr_at_20, baseline_hr_at_20, hr_gap, hr_gap_ci95, coverage
from recommendation_quality
order by logical_date;
