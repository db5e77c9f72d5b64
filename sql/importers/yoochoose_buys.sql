-- YooChoose (RecSys Challenge 2015) buys, headerless: session id, timestamp (ISO, UTC), item id,
-- price, quantity. A session's purchases make one order of its visitor (see yoochoose_clicks);
-- a quantity of 0 (the log has them) counts as 1.
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

create or replace temp table imp_orders as
select
    visitor,
    'o' || visitor as order_id,
    min(happened_at) as happened_at,
    product_id,
    sum(greatest(coalesce(quantity, 1), 1))::integer as quantity,
    nullif(max(price), 0) as unit_price,
    'delivered' as status
from imp_source
where happened_at is not null and visitor is not null and product_id is not null
group by visitor, product_id;

create or replace temp table imp_skipped as
select
    count(*) filter (
        where happened_at is null or visitor is null or product_id is null
    ) as rows_skipped, count(*) as rows_read
from imp_source;
