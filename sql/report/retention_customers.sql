-- The last_activity clock of every customer a restricted table holds: purge/targets.sql's
-- last_activity, the very table the purge expires customers by (run before this file), so the
-- report and the purge cannot disagree on who is past the period.
with held as (
    select 'raw_customers' as store, customer_id from raw_customers
    union all
    select 'raw_orders', customer_id from raw_orders
    union all
    select 'raw_requests', customer_id from raw_requests
    union all
    select 'raw_consents', subject_id from raw_consents where subject_type = 'customer'
),

customers as (
    select distinct store, customer_id from held
)

select
    c.store,
    'last_activity' as clock,
    'customers' as unit,
    count(*) as held,
    cast(min(a.last_activity_at) as timestamp) as oldest,
    count(*) filter (where a.last_activity_at < $since_last_activity) as overdue
from customers as c
left join customer_pids as p on p.raw_id = c.customer_id
left join last_activity as a on a.pid = p.pid
group by c.store
order by c.store;
