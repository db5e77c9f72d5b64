-- Every rule names what it guards; values never appear in a reason.
create or replace temp table validated as
with typed as (
    select
        _row,
        kalido_text(customer_id) as customer_id,
        kalido_text(email) as email,
        kalido_text(first_name) as first_name,
        kalido_text(last_name) as last_name,
        kalido_text(phone) as phone,
        kalido_text(street) as street,
        kalido_text(postal_code) as postal_code,
        kalido_text(city) as city,
        upper(kalido_text(country)) as country,
        kalido_text(birth_date) as birth_date_text,
        try_cast(kalido_text(birth_date) as date) as birth_date,
        upper(kalido_text(gender)) as gender,
        kalido_text(created_at) as created_at_text,
        kalido_ts(created_at) as created_at,
        kalido_text(last_login_at) as last_login_at_text,
        kalido_ts(last_login_at) as last_login_at,
        kalido_text(updated_at) as updated_at_text,
        kalido_ts(updated_at) as updated_at,
        coalesce(lower(kalido_text(account_status)), 'active') as account_status,
        _card
    from landed
)
select
    * exclude (_card, birth_date_text, created_at_text, last_login_at_text, updated_at_text),
    case
        when _card then 'card number in row'
        when customer_id is null then 'missing required field customer_id'
        when email is null then 'missing required field email'
        when not regexp_matches(email, '^[^@\s]+@[^@\s]+$') then 'malformed email'
        when updated_at_text is null then 'missing required field updated_at'
        when updated_at is null then 'unparseable timestamp in updated_at'
        when created_at_text is not null and created_at is null
            then 'unparseable timestamp in created_at'
        when last_login_at_text is not null and last_login_at is null
            then 'unparseable timestamp in last_login_at'
        when birth_date_text is not null and birth_date is null then 'unparseable birth_date'
        when birth_date > cast(updated_at as date) or birth_date > $logical_date
            then 'birth_date in the future'
        when birth_date < $birth_dates_since then 'implausible birth_date'
        when updated_at not between $records_since and $until
            then 'implausible timestamp in updated_at'
        when created_at not between $records_since and $until
            then 'implausible timestamp in created_at'
        when last_login_at not between $records_since and $until
            then 'implausible timestamp in last_login_at'
        when country is not null and not regexp_matches(country, '^[A-Z]{2}$')
            then 'country is not ISO 3166-1 alpha-2'
        when gender is not null and gender not in ('F', 'M', 'X') then 'unknown gender'
        when account_status not in ('active', 'closed') then 'unknown account_status'
    end as _reason
from typed;
