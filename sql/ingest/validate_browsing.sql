-- Every rule names what it guards; values never appear in a reason. $pii is the quality
-- suites' personal-data patterns in one: a free-text field that leaves the restricted zone
-- and matches it is quarantined here, before anything is written outside restricted/.
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
        _card
    from landed
)
select
    * exclude (_card, event_time_text),
    case
        when _card then 'card number in row'
        when event_id is null then 'missing required field event_id'
        when event_time_text is null then 'missing required field event_time'
        when event_time is null then 'unparseable timestamp in event_time'
        when event_time not between $events_since and $until
            then 'implausible timestamp in event_time'
        when event_type is null then 'missing required field event_type'
        when event_type not in ('page_view', 'product_view', 'add_to_cart', 'search')
            then 'unknown event_type'
        when cookie_id is null then 'missing required field cookie_id'
        when product_id is null and event_type in ('product_view', 'add_to_cart')
            then 'missing required field product_id'
        when not regexp_matches(product_id, $plain_id) then 'product_id is not a plain identifier'
        when regexp_matches(event_id, $pii) then 'personal data pattern in event_id'
        when regexp_matches(product_id, $pii) then 'personal data pattern in product_id'
    end as _reason
from typed;
