-- Identifiers in the raw rows of files not yet read under the current key version (unread_files;
-- the raw_browsing view holds only theirs) that have no pseudonym under it yet.
with seen as (
    select 'customer' as domain, customer_id as raw_id
    from raw_customers semi join unread_files on file_id = _file_id
    union
    select 'customer', customer_id from raw_browsing where customer_id is not null
    union
    select 'customer', customer_id
    from raw_orders
    semi join unread_files on file_id = _file_id
    union
    select 'customer', customer_id
    from raw_requests semi join unread_files on file_id = _file_id
    union
    select 'customer', subject_id
    from raw_consents semi join unread_files on file_id = _file_id
    where subject_type = 'customer'
    union
    select 'cookie', cookie_id from raw_browsing
    union
    select 'cookie', subject_id
    from raw_consents semi join unread_files on file_id = _file_id
    where subject_type = 'cookie'
)
select seen.domain, seen.raw_id
from seen
anti join id_pseudonyms as known
    on
        known.domain = seen.domain and known.raw_id = seen.raw_id
        and known.key_version = $key_version
order by seen.domain, seen.raw_id;
