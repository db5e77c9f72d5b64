-- DIGINETICA (CIKM Cup 2016) train-item-views.csv, ';'-separated: sessionId, userId ('NA' when
-- anonymous), itemId, timeframe, eventdate (needs diginetica_macros). Product views in the log's
-- own sessions; import train-purchases.csv with it for the orders.
create or replace temp table imp_source as
select
    diginetica_time(eventdate, timeframe) as happened_at,
    diginetica_visitor(userid, sessionid) as visitor,
    kalido_text(sessionid) as session_key,
    kalido_text(itemid) as product_id
from read_csv($path, header = true, all_varchar = true, delim = ';', encoding = $encoding);

create or replace temp table imp_events as
select
    visitor,
    happened_at,
    'product_view' as event_type,
    product_id,
    'd' || session_key as session_key
from imp_source
where
    happened_at is not null and visitor is not null and product_id is not null
    and session_key is not null;

create or replace temp table imp_skipped as
select
    count(*) filter (
        where happened_at is null or visitor is null or product_id is null or session_key is null
    ) as rows_skipped, count(*) as rows_read
from imp_source;
