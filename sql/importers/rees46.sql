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

create or replace temp table imp_events as
select
    visitor,
    happened_at,
    case event when 'view' then 'product_view' else 'add_to_cart' end as event_type,
    product_id,
    session_key
from imp_source
where
    event in ('view', 'cart')
    and happened_at is not null and visitor is not null and product_id is not null;

create or replace temp table imp_orders as
select
    visitor,
    'o' || md5(visitor || ':' || coalesce(session_key, '')) as order_id,
    min(happened_at) as happened_at,
    product_id,
    count(*)::integer as quantity,
    max(price) as unit_price,
    'delivered' as status
from imp_source
where
    event = 'purchase'
    and happened_at is not null
    and visitor is not null
    and product_id is not null
group by visitor, session_key, product_id;

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

create or replace temp table imp_skipped as
select
    count(*) filter (
        where happened_at is null or visitor is null or product_id is null
        or event not in ('view', 'cart', 'purchase')
    ) as rows_skipped, count(*) as rows_read
from imp_source;
