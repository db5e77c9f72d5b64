-- legal_archive / latest_order: a customer's archive goes once their latest order is past the
-- accounting period.
create or replace temp table archive_expired as
select customer_id
from archive_orders
group by customer_id
having max(ordered_at) < $archive_since;

delete from archive_orders where customer_id in (select customer_id from archive_expired);

delete from archive_customers
where
    customer_id in (select customer_id from archive_expired)
    or customer_id not in (select customer_id from archive_orders);
