-- Rows each target customer has in each restricted table, for the request log.
with customer_ids as (
    select raw_id, pid from target_ids where domain = 'customer'
),
cookie_ids as (
    select k.raw_id, o.customer_pid as pid
    from target_ids as k
    inner join cookie_owner as o on o.cookie_pid = k.pid
    where k.domain = 'cookie'
),
counted as (
    select c.pid, 'raw_customers' as store, count(*) as n_rows
    from raw_customers as r inner join customer_ids as c on c.raw_id = r.customer_id
    group by all
    union all
    select c.pid, 'raw_orders', count(*)
    from raw_orders as r inner join customer_ids as c on c.raw_id = r.customer_id
    group by all
    union all
    select c.pid, 'raw_requests', count(*)
    from raw_requests as r inner join customer_ids as c on c.raw_id = r.customer_id
    group by all
    union all
    select coalesce(c.pid, k.pid), 'raw_browsing', sum(r.events)::bigint
    from browsing_pairs as r
    left join customer_ids as c on c.raw_id = r.customer_id
    left join cookie_ids as k on k.raw_id = r.cookie_id
    where c.pid is not null or k.pid is not null
    group by all
    union all
    select coalesce(c.pid, k.pid), 'raw_consents', count(*)
    from raw_consents as r
    left join customer_ids as c on r.subject_type = 'customer' and c.raw_id = r.subject_id
    left join cookie_ids as k on r.subject_type = 'cookie' and k.raw_id = r.subject_id
    where c.pid is not null or k.pid is not null
    group by all
    union all
    select c.pid, 'archive_orders', count(*)
    from raw_orders as r inner join customer_ids as c on c.raw_id = r.customer_id
    group by all
)
select pid, store, n_rows from counted order by pid, store;
