-- Every rule names what it guards; values never appear in a reason. $pii is the quality
-- suites' personal-data patterns in one: a free-text field that leaves the restricted zone
-- and matches it is quarantined here, before anything is written outside restricted/.
create or replace temp table validated as
with typed as (
    select
        _row,
        kalido_text(order_id) as order_id,
        kalido_text(line_no) as line_no_text,
        kalido_integer(line_no) as line_no,
        kalido_text(customer_id) as customer_id,
        kalido_text(ordered_at) as ordered_at_text,
        kalido_ts(ordered_at) as ordered_at,
        kalido_text(product_id) as product_id,
        kalido_text(quantity) as quantity_text,
        kalido_integer(quantity) as quantity,
        try_cast(kalido_text(unit_price) as decimal(12, 2)) as unit_price,
        upper(kalido_text(currency)) as currency,
        lower(kalido_text(channel)) as channel,
        lower(kalido_text(status)) as status,
        _card
    from landed
)
select
    * exclude (_card, line_no_text, ordered_at_text, quantity_text),
    case
        when _card then 'card number in row'
        when order_id is null then 'missing required field order_id'
        when line_no_text is null then 'missing required field line_no'
        when line_no is null then 'line_no is not an integer'
        when customer_id is null then 'missing required field customer_id'
        when ordered_at_text is null then 'missing required field ordered_at'
        when ordered_at is null then 'unparseable timestamp in ordered_at'
        when ordered_at not between $events_since and $until
            then 'implausible timestamp in ordered_at'
        when product_id is null then 'missing required field product_id'
        when not regexp_matches(product_id, $plain_id) then 'product_id is not a plain identifier'
        when regexp_matches(product_id, $pii) then 'personal data pattern in product_id'
        when quantity_text is null then 'missing required field quantity'
        when quantity is null or quantity <= 0 then 'quantity is not a positive integer'
        when unit_price is null or unit_price < 0 then 'unit_price is not a non-negative decimal'
        when currency is null or not regexp_matches(currency, '^[A-Z]{3}$')
            then 'currency is not ISO 4217'
        when channel is not null and channel not in ('web', 'app', 'store') then 'unknown channel'
        when status is null then 'missing required field status'
        when status not in ('placed', 'shipped', 'delivered', 'cancelled', 'returned')
            then 'unknown order status'
    end as _reason
from typed;
