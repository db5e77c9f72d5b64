-- What every imported file adds to (several files of one log make one zone, e.g. DIGINETICA's
-- item views and its purchases): each format's SQL fills imp_* for one file, collect.sql appends
-- them here. The columns are file_tables.sql's (run first).
create or replace temp table imported_events as select * from imp_events limit 0;

create or replace temp table imported_orders as select * from imp_orders limit 0;

create or replace temp table imported_products as select * from imp_products limit 0;

create or replace temp table imported_skipped (rows_skipped bigint, rows_read bigint);
