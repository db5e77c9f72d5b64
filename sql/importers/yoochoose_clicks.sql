-- YooChoose (RecSys Challenge 2015) clicks, headerless: session id, timestamp (ISO, UTC), item id,
-- category ('0' unknown, 'S' a special offer, 1-12 a category, a long number a brand). Each
-- session is its own visitor; import the buys file with it for the orders.
create or replace temp table imp_source as
select
    kalido_ts(ts) as happened_at,
    's' || kalido_text(session) as visitor,
    'y' || kalido_text(session) as session_key,
    kalido_text(item) as product_id,
    kalido_text(category) as category
from read_csv(
    $path, header = false, delim = ',', encoding = $encoding, auto_detect = false,
    columns = {'session': 'VARCHAR', 'ts': 'VARCHAR', 'item': 'VARCHAR', 'category': 'VARCHAR'}
);

insert into imp_rows by name
select
    visitor, happened_at, product_id,
    'product_view' as kind,
    session_key,
    happened_at is null or visitor is null or product_id is null as skipped
from imp_source;

-- A product's category and brand: the largest seen (the log marks most clicks '0' or 'S').
create or replace temp table imp_products as
select
    product_id,
    null::varchar as title,
    'Category ' || max(try_cast(category as integer)) filter (
        where try_cast(category as integer) between 1 and 12
    ) as category_path,
    max(category) filter (where length(category) >= 8) as brand,
    null::decimal(12, 2) as price
from imp_source
where product_id is not null
group by product_id;
