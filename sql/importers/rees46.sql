-- REES46 multi-category store: event_time ('YYYY-MM-DD hh:mm:ss UTC'), event_type (view | cart |
-- remove_from_cart | purchase), product_id, category_id, category_code (dotted), brand, price,
-- user_id, user_session. A session's purchases make one order.
create or replace temp table imp_source as
select
    try_cast(replace(kalido_text(event_time), ' UTC', '') as timestamp) as happened_at,
    lower(kalido_text(event_type)) as event,
    kalido_text(product_id) as product_id,
    kalido_text(category_id) as category_id,
    kalido_text(category_code) as category_code,
    kalido_text(brand) as brand,
    try_cast(kalido_text(price) as decimal(12, 2)) as price,
    kalido_text(user_id) as visitor,
    kalido_text(user_session) as session_key
from read_csv($path, header = true, all_varchar = true, delim = ',', encoding = $encoding);

insert into imp_rows by name
select
    visitor, happened_at, product_id,
    case event
        when 'view' then 'product_view'
        when 'cart' then 'add_to_cart'
        when 'purchase' then 'purchase'
    end as kind,
    session_key,
    'o' || md5(visitor || ':' || coalesce(session_key, '')) as order_id,
    price as unit_price,
    happened_at is null or visitor is null or product_id is null
    or event not in ('view', 'cart', 'purchase') as skipped
from imp_source;

-- The latest row of a product describes it.
create or replace temp table imp_products as
select
    product_id,
    null::varchar as title,
    coalesce(
        nullif(array_to_string(string_split(category_code, '.'), ' > '), ''),
        'Category ' || category_id
    ) as category_path,
    brand,
    price
from imp_source
where product_id is not null
qualify row_number() over (partition by product_id order by happened_at desc nulls last) = 1;
