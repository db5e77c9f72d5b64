-- Every rule names what it guards; values never appear in a reason. $pii is the quality
-- suites' personal-data patterns in one: a free-text field that leaves the restricted zone
-- and matches it is quarantined here, before anything is written outside restricted/.
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
        _card
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
        when received_at not between $records_since and $until
            then 'implausible timestamp in received_at'
    end as _reason
from typed;
