-- One file's rows, empty until its format's SQL fills them. imp_rows holds every row of the log in
-- common columns; collect.sql makes the import's events, order lines and skipped count of them.
-- A format inserts by name, so a column it does not give keeps its default: a log with one row
-- per item bought leaves quantity at 1, and an order is delivered unless the format says otherwise.
-- `kind` is product_view, add_to_cart or purchase; `skipped` is the format's rule for a row that
-- cannot be used. A format without product descriptions leaves imp_products empty.
create or replace temp table imp_rows (
    visitor varchar,
    happened_at timestamp,
    kind varchar,
    product_id varchar,
    session_key varchar,
    order_id varchar,
    quantity integer default 1,
    unit_price decimal(12, 2),
    status varchar default 'delivered',
    skipped boolean
);

create or replace temp table imp_products (
    product_id varchar, title varchar, category_path varchar, brand varchar, price decimal(12, 2)
);
