-- legal_archive / latest_order: each archived customer's latest order starts their period.
with customers as (
    select customer_id, max(ordered_at) as latest_order_at
    from archive.archive_orders
    group by customer_id
)

select
    'legal_archive' as store,
    'latest_order' as clock,
    'customers' as unit,
    count(*) as held,
    cast(min(latest_order_at) as timestamp) as oldest,
    count(*) filter (where latest_order_at < $since_legal_archive_latest_order) as overdue
from customers;
