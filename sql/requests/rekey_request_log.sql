-- The request log follows the key: a pseudonym whose customer is still known is re-keyed, one
-- whose customer was erased becomes NULL (no key version can link it to anything any more).
update request_log as l
set customer_pid = m.new_pid, key_version = $key_version
from (
    select distinct o.pid as old_pid, o.key_version as old_version, n.pid as new_pid
    from id_pseudonyms as o
    inner join id_pseudonyms as n
        on n.domain = 'customer' and n.raw_id = o.raw_id and n.key_version = $key_version
    where o.domain = 'customer' and o.key_version <> $key_version
) as m
where m.old_pid = l.customer_pid and m.old_version = l.key_version;

update request_log set customer_pid = null, key_version = $key_version
where key_version <> $key_version;
