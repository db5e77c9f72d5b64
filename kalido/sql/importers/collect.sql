-- One file's rows appended to the import's (see imported_tables.sql).
insert into imported_events by name select * from imp_events;

insert into imported_orders by name select * from imp_orders;

insert into imported_products by name select * from imp_products;

insert into imported_skipped by name select * from imp_skipped;
