-- Every rule names what it guards; values never appear in a reason. $pii is the quality
-- suites' personal-data patterns in one: a free-text field that leaves the restricted zone
-- and matches it is quarantined here, before anything is written outside restricted/.
create or replace temp table validated as
with typed as (
    select
        _row,
        lower(kalido_text(subject_type)) as subject_type,
        kalido_text(subject_id) as subject_id,
        lower(kalido_text(purpose)) as purpose,
        lower(kalido_text(status)) as status,
        kalido_text(recorded_at) as recorded_at_text,
        kalido_ts(recorded_at) as recorded_at,
        kalido_text(source) as source,
        _card
    from landed
)
select
    * exclude (_card, recorded_at_text),
    case
        when _card then 'card number in row'
        when subject_type is null then 'missing required field subject_type'
        when subject_type not in ('customer', 'cookie') then 'unknown subject_type'
        when subject_id is null then 'missing required field subject_id'
        when purpose is null then 'missing required field purpose'
        when purpose not in (select unnest($purposes)) then 'unknown purpose'
        when status is null then 'missing required field status'
        when status not in ('granted', 'withdrawn') then 'unknown consent status'
        when recorded_at_text is null then 'missing required field recorded_at'
        when recorded_at is null then 'unparseable timestamp in recorded_at'
        when recorded_at not between $records_since and $until
            then 'implausible timestamp in recorded_at'
        when regexp_matches(source, $pii) then 'personal data pattern in source'
    end as _reason
from typed;
