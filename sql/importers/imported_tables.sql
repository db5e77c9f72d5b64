-- What every imported file adds to (several files of one log make one zone, e.g. DIGINETICA's
-- item views and its purchases): each format's SQL fills imp_rows and imp_products for one file,
-- collect.sql appends them here. imp_products is file_tables.sql's (run first).
create or replace temp table imported_events (
    visitor varchar,
    happened_at timestamp,
    event_type varchar,
    product_id varchar,
    session_key varchar
);

create or replace temp table imported_orders (
    visitor varchar, order_id varchar, happened_at timestamp, product_id varchar, quantity integer,
    unit_price decimal(12, 2), status varchar
);

create or replace temp table imported_products as select * from imp_products limit 0;

create or replace temp table imported_skipped (rows_skipped bigint, rows_read bigint);
