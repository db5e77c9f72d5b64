-- RetailRocket events.csv: timestamp (ms since epoch), visitorid, event (view | addtocart |
-- transaction), itemid, transactionid. Sessions are derived later (30-minute inactivity gap).
create or replace temp table imp_source as
select
    epoch_ms(try_cast(kalido_text("timestamp") as bigint)) as happened_at,
    kalido_text(visitorid) as visitor,
    lower(kalido_text(event)) as event,
    kalido_text(itemid) as product_id,
    kalido_text(transactionid) as order_id
from read_csv($path, header = true, all_varchar = true, delim = ',', encoding = $encoding);

create or replace temp table imp_events as
select
    visitor,
    happened_at,
    case event when 'view' then 'product_view' else 'add_to_cart' end as event_type,
    product_id,
    null::varchar as session_key
from imp_source
where
    event in ('view', 'addtocart')
    and happened_at is not null and visitor is not null and product_id is not null;

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
    event = 'transaction'
    and happened_at is not null and visitor is not null and product_id is not null
    and order_id is not null
group by visitor, order_id, product_id;

create or replace temp table imp_skipped as
select
    count(*) filter (
        where happened_at is null or visitor is null or product_id is null
        or event not in ('view', 'addtocart', 'transaction')
        or (event = 'transaction' and order_id is null)
    ) as rows_skipped, count(*) as rows_read
from imp_source;
