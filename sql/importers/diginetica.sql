-- DIGINETICA (CIKM Cup 2016) train-purchases.csv, ';'-separated: sessionId, userId ('NA' when
-- anonymous), timeframe, eventdate, ordernumber, itemId (needs diginetica_macros). Only
-- purchases: each order is an order; train-item-views.csv brings the browsing.
create or replace temp table imp_source as
select
    diginetica_time(eventdate, timeframe) as happened_at,
    diginetica_visitor(userid, sessionid) as visitor,
    kalido_text(ordernumber) as order_id,
    kalido_text(itemid) as product_id
from read_csv($path, header = true, all_varchar = true, delim = ';', encoding = $encoding);

create or replace temp table imp_orders as
select
    visitor,
    order_id,
    min(happened_at) as happened_at,
    product_id,
    count(*)::integer as quantity,
    null::decimal(12, 2) as unit_price,
    'delivered' as status
from imp_source
where
    happened_at is not null
    and visitor is not null
    and product_id is not null
    and order_id is not null
group by visitor, order_id, product_id;

create or replace temp table imp_skipped as
select
    count(*) filter (
        where happened_at is null or visitor is null or product_id is null or order_id is null
    ) as rows_skipped, count(*) as rows_read
from imp_source;
