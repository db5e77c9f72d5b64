-- Orders of departing customers move to the legal archive with the billing identity an invoice
-- needs; the profile, contact details and behaviour are not archived. Idempotent: it commits on
-- its own (one transaction writes one database), before the restricted rows are deleted.
insert into archive.archive_orders
select
    o.order_id, o.line_no, o.customer_id, o.ordered_at, o.product_id, o.quantity, o.unit_price,
    o.currency, o.status, $logical_date
from raw_orders as o
inner join target_ids as t on t.domain = 'customer' and t.raw_id = o.customer_id
anti join archive.archive_orders as a on a.order_id = o.order_id and a.line_no = o.line_no;

insert into archive.archive_customers
select
    c.customer_id, c.first_name, c.last_name, c.street, c.postal_code, c.city, c.country,
    $logical_date, t.reason
from raw_customers as c
inner join target_ids as t on t.domain = 'customer' and t.raw_id = c.customer_id
where
    c.customer_id in (select customer_id from raw_orders)
    and c.customer_id not in (select customer_id from archive.archive_customers)
qualify row_number() over (partition by c.customer_id order by c.updated_at desc, c._row desc) = 1;
