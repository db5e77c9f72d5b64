-- The imported events as contract-format landing rows. Every visitor becomes an adult, active,
-- logged-in customer who granted personalisation and email marketing when first seen, so the
-- pipeline's gates let the whole log through. `dt` is the local day in the business time zone.

-- A product once, however many of the imported files name it (each one's description, if any).
create or replace temp table imported_catalogue as
select
    product_id, max(title) as title, max(category_path) as category_path, max(brand) as brand,
    max(price) as price
from imported_products
group by product_id;

create or replace temp table imp_first as
select min(happened_at) as first_at
from (
    select happened_at from imported_events
    union all
    select happened_at from imported_orders
);

create or replace temp table land_browsing as
with ordered as (
    select
        *,
        coalesce(
            happened_at
            - lag(happened_at)
                over (partition by visitor order by happened_at, product_id, event_type)
            > interval 30 minute,
            true
        ) as opens_session
    from imported_events
),
sessions as (
    select
        *,
        sum(opens_session::integer) over (
            partition by visitor order by happened_at, product_id, event_type
            rows between unbounded preceding and current row
        ) as session_no
    from ordered
)
select
    cast(timezone($timezone, timezone('UTC', happened_at)) as date) as dt,
    'ev' || row_number() over (order by happened_at, visitor, product_id, event_type) as event_id,
    strftime(happened_at, '%Y-%m-%dT%H:%M:%S.%gZ') as event_time,
    event_type,
    'ck_v' || visitor as cookie_id,
    'v' || visitor as customer_id,
    coalesce(session_key, 'v' || visitor || '-' || session_no) as session_id,
    product_id,
    'https://shop.invalid/p/' || product_id as page_url,
    null::varchar as referrer,
    null::varchar as ip_address,
    null::varchar as user_agent
from sessions;

create or replace temp table land_products as
select
    cast(timezone($timezone, timezone('UTC', f.first_at)) as date) as dt,
    p.product_id,
    coalesce(p.title, 'Item ' || p.product_id) as title,
    coalesce(p.category_path, c.category_path, 'Imported') as category_path,
    p.brand,
    p.price,
    'EUR' as currency,
    'true' as in_stock,
    'https://shop.invalid/p/' || p.product_id as url,
    strftime(f.first_at, '%Y-%m-%dT%H:%M:%SZ') as updated_at
from imported_catalogue as p
cross join imp_first as f
left join imp_categories as c on c.product_id = p.product_id;

create or replace temp table land_orders as
with dated as (
    select *, min(happened_at) over (partition by order_id) as ordered_at
    from imported_orders
)
select
    cast(timezone($timezone, timezone('UTC', o.ordered_at)) as date) as dt,
    o.order_id,
    row_number() over (partition by o.order_id order by o.product_id) as line_no,
    'v' || o.visitor as customer_id,
    strftime(o.ordered_at, '%Y-%m-%dT%H:%M:%SZ') as ordered_at,
    o.product_id,
    o.quantity,
    coalesce(o.unit_price, p.price, 0) as unit_price,
    'EUR' as currency,
    'web' as channel,
    o.status
from dated as o
left join imported_catalogue as p on p.product_id = o.product_id;

create or replace temp table land_customers as
with visitors as (
    select visitor from imported_events
    union
    select visitor from imported_orders
)
select
    cast(timezone($timezone, timezone('UTC', f.first_at)) as date) as dt,
    'v' || v.visitor as customer_id,
    'v' || v.visitor || '@import.invalid' as email,
    null::varchar as first_name,
    null::varchar as last_name,
    null::varchar as phone,
    null::varchar as street,
    null::varchar as postal_code,
    null::varchar as city,
    null::varchar as country,
    null::varchar as birth_date,
    null::varchar as gender,
    strftime(f.first_at, '%Y-%m-%dT%H:%M:%SZ') as created_at,
    null::varchar as last_login_at,
    strftime(f.first_at, '%Y-%m-%dT%H:%M:%SZ') as updated_at,
    'active' as account_status
from visitors as v
cross join imp_first as f;

create or replace temp table land_consents as
with purpose as (select unnest(['personalisation', 'email_marketing']) as name)
select
    c.dt,
    'customer' as subject_type,
    c.customer_id as subject_id,
    purpose.name as purpose,
    'granted' as status,
    c.created_at as recorded_at,
    'import' as source
from land_customers as c
cross join purpose;
