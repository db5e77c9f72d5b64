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

insert into imp_rows by name
select
    visitor, happened_at, product_id,
    case event
        when 'view' then 'product_view'
        when 'addtocart' then 'add_to_cart'
        when 'transaction' then 'purchase'
    end as kind,
    order_id,
    happened_at is null or visitor is null or product_id is null
    or event not in ('view', 'addtocart', 'transaction')
    or (event = 'transaction' and order_id is null) as skipped
from imp_source;
