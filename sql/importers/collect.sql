-- One file's rows appended to the import's (see imported_tables.sql). Every product its events
-- and orders name is in the catalogue, whether or not the format describes it.
insert into imported_events by name select * from imp_events;

insert into imported_orders by name select * from imp_orders;

insert into imported_products by name select * from imp_products;

insert into imported_products (product_id)
select product_id from imp_events
union
select product_id from imp_orders;

insert into imported_skipped by name select * from imp_skipped;
