-- What every imported file adds to (several files of one log make one zone, e.g. DIGINETICA's
-- item views and its purchases): each format's SQL fills imp_* (file_tables.sql) for one file,
-- collect.sql appends them here.
create or replace temp table imported_events (
    visitor varchar, happened_at timestamp, event_type varchar, product_id varchar, session_key varchar
);

create or replace temp table imported_orders (
    visitor varchar, order_id varchar, happened_at timestamp, product_id varchar, quantity integer,
    unit_price decimal(12, 2), status varchar
);

create or replace temp table imported_products (
    product_id varchar, title varchar, category_path varchar, brand varchar, price decimal(12, 2)
);

create or replace temp table imported_skipped (rows_skipped bigint, rows_read bigint);
