-- One file's rows appended to the import's (see imported_tables.sql): its usable browsing, and
-- its purchases as order lines, one per visitor, order and product, holding the quantity of its
-- rows. Every product its events and orders name is in the catalogue, whether or not the format
-- describes it.
insert into imported_events by name
select visitor, happened_at, kind as event_type, product_id, session_key
from imp_rows
where not skipped and kind in ('product_view', 'add_to_cart');

insert into imported_orders by name
select
    visitor,
    order_id,
    min(happened_at) as happened_at,
    product_id,
    sum(quantity)::integer as quantity,
    max(unit_price) as unit_price,
    status
from imp_rows
where not skipped and kind = 'purchase'
group by visitor, order_id, product_id, status;

insert into imported_products by name select * from imp_products;

insert into imported_products (product_id)
select distinct product_id from imp_rows
where not skipped;

insert into imported_skipped
select count(*) filter (where skipped) as rows_skipped, count(*) as rows_read
from imp_rows;
