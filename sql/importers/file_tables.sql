-- One file's rows, empty until its format's SQL fills (or replaces) them: a format without
-- browsing, orders or product descriptions leaves that table empty.
create or replace temp table imp_events (
    visitor varchar,
    happened_at timestamp,
    event_type varchar,
    product_id varchar,
    session_key varchar
);

create or replace temp table imp_orders (
    visitor varchar, order_id varchar, happened_at timestamp, product_id varchar, quantity integer,
    unit_price decimal(12, 2), status varchar
);

create or replace temp table imp_products (
    product_id varchar, title varchar, category_path varchar, brand varchar, price decimal(12, 2)
);
