-- YooChoose (RecSys Challenge 2015) buys, headerless: session id, timestamp (ISO, UTC), item id,
-- price, quantity. A session's purchases make one order of its visitor (see yoochoose_clicks);
-- a quantity of 0 (the log has them) counts as 1, and a price of 0 is an unknown price.
create or replace temp table imp_source as
select
    kalido_ts(ts) as happened_at,
    's' || kalido_text(session) as visitor,
    kalido_text(item) as product_id,
    try_cast(kalido_text(price) as decimal(12, 2)) as price,
    try_cast(kalido_text(quantity) as integer) as quantity
from read_csv(
    $path, header = false, delim = ',', encoding = $encoding, auto_detect = false,
    columns = {
        'session': 'VARCHAR', 'ts': 'VARCHAR', 'item': 'VARCHAR', 'price': 'VARCHAR',
        'quantity': 'VARCHAR'
    }
);

insert into imp_rows by name
select
    visitor, happened_at, product_id,
    'purchase' as kind,
    'o' || visitor as order_id,
    greatest(coalesce(quantity, 1), 1) as quantity,
    nullif(price, 0) as unit_price,
    happened_at is null or visitor is null or product_id is null as skipped
from imp_source;
