-- Identifiers seen in raw data that have no pseudonym yet under the current key version.
with seen as (
    select 'customer' as domain, customer_id as raw_id from raw_customers
    union select 'customer', customer_id from raw_browsing where customer_id is not null
    union select 'customer', customer_id from raw_orders
    union select 'customer', customer_id from raw_requests
    union select 'customer', subject_id from raw_consents where subject_type = 'customer'
    union select 'cookie', cookie_id from raw_browsing
    union select 'cookie', subject_id from raw_consents where subject_type = 'cookie'
)
select seen.domain, seen.raw_id
from seen
anti join id_pseudonyms as known
    on known.domain = seen.domain and known.raw_id = seen.raw_id
    and known.key_version = $key_version
order by seen.domain, seen.raw_id;
