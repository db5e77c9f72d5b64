create or replace temp table validated as
with typed as (
    select
        _row,
        kalido_text(request_id) as request_id,
        kalido_text(customer_id) as customer_id,
        lower(kalido_text(type)) as type,
        lower(kalido_text(purpose)) as purpose,
        kalido_text(received_at) as received_at_text,
        kalido_ts(received_at) as received_at,
        kalido_has_card(concat_ws(chr(31), {columns})) as _card
    from landed
)
select
    * exclude (_card, received_at_text),
    case
        when _card then 'card number in row'
        when request_id is null then 'missing required field request_id'
        when customer_id is null then 'missing required field customer_id'
        when type is null then 'missing required field type'
        when type not in (
            'access', 'erasure', 'objection', 'restriction', 'portability', 'rectification'
        ) then 'unknown request type'
        when purpose is not null and purpose not in (select unnest($purposes))
            then 'unknown purpose'
        when received_at_text is null then 'missing required field received_at'
        when received_at is null then 'unparseable timestamp in received_at'
    end as _reason
from typed;
