-- Pseudonymised staging from the restricted raw store as of the logical date.
-- Direct identifiers are replaced by keyed pseudonyms; quasi-identifiers are coarsened here,
-- before anything leaves the restricted zone: IP to /24 (IPv4) or /48 (IPv6), user agent to
-- browser family and device class, birth date to an age band and an adult flag.
create or replace temp table pid_customer as
select raw_id, pid from raw.id_pseudonyms
where domain = 'customer' and key_version = $key_version;

create or replace temp table pid_cookie as
select raw_id, pid from raw.id_pseudonyms
where domain = 'cookie' and key_version = $key_version;

create or replace table stg_customers as
with versions as (
    -- Only the columns staging keeps: direct identifiers never enter this process's buffers,
    -- whose stale memory DuckDB may write into unused block tails of the work database.
    select
        p.pid as user_pid,
        c.country, c.gender, c.birth_date, c.created_at, c.last_login_at, c.updated_at,
        c.account_status,
        row_number() over (
            partition by p.pid
            order by c.updated_at desc, c._partition_date desc, c._file_id desc, c._row desc
        ) as version_rank
    from raw.raw_customers as c
    inner join pid_customer as p on p.raw_id = c.customer_id
    where c._partition_date <= $logical_date
),
current_version as (
    select
        *,
        year($logical_date) - year(birth_date)
        - case
            when (month($logical_date), day($logical_date)) < (month(birth_date), day(birth_date))
                then 1
            else 0
        end as age_years
    from versions
    where version_rank = 1
)
select
    user_pid,
    country,
    gender,
    case
        when age_years is null then 'unknown'
        when age_years < $age_limit then 'minor'
        when age_years < 25 then '18-24'
        when age_years < 35 then '25-34'
        when age_years < 45 then '35-44'
        when age_years < 55 then '45-54'
        when age_years < 65 then '55-64'
        else '65+'
    end as age_band,
    coalesce(age_years < $age_limit, false) as is_minor,
    created_at,
    case when last_login_at < $cutoff then last_login_at end as last_login_at,
    updated_at,
    account_status
from current_version
order by user_pid;

create or replace table stg_consents as
select
    c.subject_type,
    case c.subject_type when 'customer' then pc.pid when 'cookie' then pk.pid end as subject_pid,
    c.purpose,
    c.status,
    c.recorded_at,
    c.source
from raw.raw_consents as c
-- Equi-joins only (an extra condition in ON makes a nested-loop join); the CASE picks the domain.
left join pid_customer as pc on pc.raw_id = c.subject_id
left join pid_cookie as pk on pk.raw_id = c.subject_id
where c.recorded_at < $cutoff and c._partition_date <= $logical_date
order by subject_pid, purpose, recorded_at;

-- Browsing is the big table: only landing partitions whose raw rows changed since the last run
-- ($changed_files: their raw files, see pseudonymise.py) are pseudonymised again; the rest is
-- reused as is. The files are read directly, not filtered out of the raw_browsing view, so that
-- DuckDB estimates their rows from their metadata and builds its hash tables on the pseudonym
-- tables, never on a day of browsing (which ran an L day out of memory).
create or replace table stg_browsing_changed as
select
    b._partition_date,
    b.event_id,
    b.event_time,
    b.event_type,
    k.pid as cookie_pid,
    c.pid as customer_pid,
    kalido_token(md5(k.pid || ':' || coalesce(b.session_id, ''))) as session_pid,
    b.product_id,
    case
        when b.ip_address like '%:%'
            then array_to_string(string_split(b.ip_address, ':')[1:3], ':') || '::/48'
        when regexp_matches(b.ip_address, '^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$')
            then regexp_replace(b.ip_address, '\.\d{1,3}$', '.0') || '/24'
    end as ip_prefix,
    case
        when b.user_agent ilike '%edg/%' then 'Edge'
        when b.user_agent ilike '%firefox/%' then 'Firefox'
        when b.user_agent ilike '%chrome/%' or b.user_agent ilike '%crios/%' then 'Chrome'
        when b.user_agent ilike '%safari/%' then 'Safari'
        when b.user_agent ilike '%bot%' or b.user_agent ilike '%spider%' then 'Bot'
        when b.user_agent is null then 'Unknown'
        else 'Other'
    end as browser_family,
    case
        when b.user_agent ilike '%ipad%' or b.user_agent ilike '%tablet%' then 'tablet'
        when b.user_agent ilike '%mobi%' or b.user_agent ilike '%android%' then 'mobile'
        when b.user_agent is null then 'unknown'
        else 'desktop'
    end as device_class
from read_parquet($changed_files, hive_partitioning = false) as b
inner join pid_cookie as k on k.raw_id = b.cookie_id
left join pid_customer as c on c.raw_id = b.customer_id;

create or replace table stg_orders as
select
    kalido_token(md5(p.pid || ':' || o.order_id)) as order_pid,
    o.line_no,
    p.pid as customer_pid,
    o.ordered_at,
    o.product_id,
    o.quantity,
    o.unit_price,
    o.currency,
    o.channel,
    o.status
from raw.raw_orders as o
inner join pid_customer as p on p.raw_id = o.customer_id
where o.ordered_at < $cutoff and o._partition_date <= $logical_date
order by o.ordered_at, order_pid, o.line_no;

-- Request ids stay in restricted/: staging names a request by its pseudonym (request_log).
create or replace table stg_requests as
select l.request_pid, p.pid as customer_pid, r.type, r.purpose, r.received_at
from raw.raw_requests as r
inner join pid_customer as p on p.raw_id = r.customer_id
left join raw.request_log as l on l.request_id = r.request_id
where r.received_at < $cutoff and r._partition_date <= $logical_date
order by r.received_at, l.request_pid;

-- The catalogue is the latest snapshot up to the logical date.
create or replace table stg_products as
with latest_snapshot as (
    select max(_partition_date) as snapshot_date
    from raw.raw_products
    where _partition_date <= $logical_date
),
snapshot_rows as (
    select
        p.*,
        string_split(p.category_path, ' > ') as levels,
        row_number() over (
            partition by p.product_id order by p.updated_at desc nulls last, p._row desc
        ) as version_rank
    from raw.raw_products as p
    inner join latest_snapshot as s on s.snapshot_date = p._partition_date
)
select
    product_id,
    title,
    trim(levels[-1]) as category,
    category_path,
    trim(levels[1]) as top_category,
    brand,
    price,
    currency,
    in_stock,
    url,
    updated_at
from snapshot_rows
where version_rank = 1
order by product_id;
