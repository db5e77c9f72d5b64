create or replace temp table validated as
with typed as (
    select
        _row,
        kalido_text(event_id) as event_id,
        kalido_text(event_time) as event_time_text,
        kalido_ts(event_time) as event_time,
        lower(kalido_text(event_type)) as event_type,
        kalido_text(cookie_id) as cookie_id,
        kalido_text(customer_id) as customer_id,
        kalido_text(session_id) as session_id,
        kalido_text(product_id) as product_id,
        kalido_text(page_url) as page_url,
        kalido_text(referrer) as referrer,
        kalido_text(ip_address) as ip_address,
        kalido_text(user_agent) as user_agent,
        kalido_has_card(concat_ws(chr(31), {columns})) as _card
    from landed
)
select
    * exclude (_card, event_time_text),
    case
        when _card then 'card number in row'
        when event_id is null then 'missing required field event_id'
        when event_time_text is null then 'missing required field event_time'
        when event_time is null then 'unparseable timestamp in event_time'
        when event_type is null then 'missing required field event_type'
        when event_type not in ('page_view', 'product_view', 'add_to_cart', 'search')
            then 'unknown event_type'
        when cookie_id is null then 'missing required field cookie_id'
        when product_id is null and event_type in ('product_view', 'add_to_cart')
            then 'missing required field product_id'
    end as _reason
from typed;
