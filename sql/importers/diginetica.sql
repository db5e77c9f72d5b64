-- DIGINETICA (CIKM Cup 2016) train-purchases.csv, ';'-separated: sessionId, userId ('NA' when
-- anonymous), timeframe, eventdate, ordernumber, itemId (needs diginetica_macros). Only
-- purchases: each order is an order; train-item-views.csv brings the browsing.
insert into imp_rows by name
select
    visitor, happened_at, product_id,
    'purchase' as kind,
    kalido_text(ordernumber) as order_id,
    happened_at is null or visitor is null or product_id is null
    or kalido_text(ordernumber) is null as skipped
from diginetica_log($path, $encoding);
