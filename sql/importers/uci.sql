-- UCI Online Retail: InvoiceNo ('C...' = a cancellation), StockCode, Description, Quantity,
-- InvoiceDate (ISO or m/d/Y H:M, taken as UTC), UnitPrice, CustomerID (may be blank or '17850.0'),
-- Country. Lines without a customer cannot be attributed to anyone and are skipped. Online Retail
-- II's Invoice, Price and Customer ID come renamed to these names ($columns, from the header).
create or replace temp table imp_source as
select
    kalido_text(invoiceno) as order_id,
    kalido_text(stockcode) as product_id,
    kalido_text(description) as title,
    try_cast(kalido_text(quantity) as integer) as quantity,
    coalesce(
        try_strptime(kalido_text(invoicedate), '%Y-%m-%d %H:%M:%S'),
        try_strptime(kalido_text(invoicedate), '%m/%d/%Y %H:%M')
    ) as happened_at,
    try_cast(kalido_text(unitprice) as decimal(12, 2)) as unit_price,
    cast(try_cast(kalido_text(customerid) as double) as bigint)::varchar as visitor
from read_csv(
    $path, header = true, all_varchar = true, delim = ',', encoding = $encoding, names = $columns
);

-- A cancellation's line has a negative quantity (the skip rule reads it as the log gives it):
-- the order line holds how much.
insert into imp_rows by name
select
    visitor, happened_at, product_id,
    'purchase' as kind,
    order_id,
    abs(quantity) as quantity,
    unit_price,
    case when order_id like 'C%' then 'cancelled' else 'delivered' end as status,
    happened_at is null or visitor is null or product_id is null or order_id is null
    or quantity is null or quantity = 0 or (quantity < 0 and order_id not like 'C%')
    or coalesce(unit_price, 0) < 0 as skipped
from imp_source;

create or replace temp table imp_products as
select
    product_id,
    title,
    null::varchar as category_path,
    null::varchar as brand,
    unit_price as price
from imp_source
where product_id is not null
qualify row_number() over (partition by product_id order by happened_at desc nulls last, title) = 1;
