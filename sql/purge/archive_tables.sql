-- The legal archive: what accounting law needs to keep for invoices, nothing else (no contact
-- details, no birth date, no consent, no browsing, no profile).
create table if not exists archive_customers (
    customer_id varchar not null, first_name varchar, last_name varchar, street varchar,
    postal_code varchar, city varchar, country varchar, archived_on date not null,
    reason varchar not null
);
create table if not exists archive_orders (
    order_id varchar not null, line_no integer not null, customer_id varchar not null,
    ordered_at timestamp not null, product_id varchar not null, quantity integer not null,
    unit_price decimal(12, 2) not null, currency varchar not null, status varchar not null,
    archived_on date not null
);
