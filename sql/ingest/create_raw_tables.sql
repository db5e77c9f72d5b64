-- Restricted zone: raw tables hold direct identifiers and never leave restricted/.
-- Every row keeps its lineage (_file_id, _row) and the landing partition it came from.
-- Raw browsing is not a table here: restricted Parquet files (see raw_browsing.py).
create table if not exists raw_customers (
    customer_id varchar not null, email varchar not null, first_name varchar, last_name varchar,
    phone varchar, street varchar, postal_code varchar, city varchar, country varchar,
    birth_date date, gender varchar, created_at timestamp, last_login_at timestamp,
    updated_at timestamp not null, account_status varchar,
    _partition_date date not null, _file_id varchar not null, _row bigint not null
);
create table if not exists raw_consents (
    subject_type varchar not null, subject_id varchar not null, purpose varchar not null,
    status varchar not null, recorded_at timestamp not null, source varchar,
    _partition_date date not null, _file_id varchar not null, _row bigint not null
);
create table if not exists raw_orders (
    order_id varchar not null, line_no integer not null, customer_id varchar not null,
    ordered_at timestamp not null, product_id varchar not null, quantity integer not null,
    unit_price decimal(12, 2) not null, currency varchar not null, channel varchar,
    status varchar not null,
    _partition_date date not null, _file_id varchar not null, _row bigint not null
);
create table if not exists raw_products (
    product_id varchar not null, title varchar, category_path varchar not null, brand varchar,
    price decimal(12, 2), currency varchar, in_stock boolean not null, url varchar,
    updated_at timestamp,
    _partition_date date not null, _file_id varchar not null, _row bigint not null
);
create table if not exists raw_requests (
    request_id varchar not null, customer_id varchar not null, type varchar not null,
    purpose varchar, received_at timestamp not null,
    _partition_date date not null, _file_id varchar not null, _row bigint not null
);
-- Rejected rows, masked for card numbers, with the reason; restricted because they hold PII.
create table if not exists raw_quarantine (
    source varchar not null, _file_id varchar not null, _row bigint, reason varchar not null,
    payload varchar, run_id varchar not null
);
-- One row per landing file seen: ingest-once is keyed on (path, sha256).
create table if not exists ingest_ledger (
    file_id varchar primary key, source varchar not null, partition_date date not null,
    path varchar not null, sha256 varchar not null, size_bytes bigint not null,
    status varchar not null, rows_read bigint not null, rows_loaded bigint not null,
    rows_quarantined bigint not null, duplicates_dropped bigint not null,
    error varchar, run_id varchar not null, logical_date date not null
);
-- Columns outside the contract that a file held, dropped after the card scan (names only).
alter table ingest_ledger add column if not exists dropped_columns varchar;
-- The path as the warehouse and logs may show it (personal-data patterns in a name withheld).
alter table ingest_ledger add column if not exists shown_path varchar;
-- Data-subject requests and what was done about them (filled by purge, read by pseudonymise):
-- the request id stays here; everything outside restricted/ names a request by request_pid.
create table if not exists request_log (
    request_id varchar primary key, type varchar not null, purpose varchar,
    customer_pid varchar, key_version integer, received_at timestamp not null,
    due_on date not null, completed_on date, status varchar not null,
    rows_affected json, note varchar, run_id varchar not null
);
-- The request's keyed pseudonym (suppression.request_pseudonym): what leaves restricted/.
alter table request_log add column if not exists request_pid varchar;
