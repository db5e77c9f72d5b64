-- DIGINETICA (CIKM Cup 2016) train-item-views.csv, ';'-separated: sessionId, userId ('NA' when
-- anonymous), itemId, timeframe, eventdate (needs diginetica_macros). Product views in the log's
-- own sessions; import train-purchases.csv with it for the orders.
insert into imp_rows by name
select
    visitor, happened_at, product_id,
    'product_view' as kind,
    'd' || kalido_text(sessionid) as session_key,
    happened_at is null or visitor is null or product_id is null
    or kalido_text(sessionid) is null as skipped
from diginetica_log($path, $encoding);
