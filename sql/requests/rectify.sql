-- Rectification is done once the CRM delivered a version updated at or after the request: that
-- version wins in staging, and the superseded versions (the inaccurate data) are deleted.
create or replace temp table rectified as
select l.request_id, l.customer_pid
from request_log as l
where
    l.status = 'open' and l.type = 'rectification'
    and exists (
        select 1
        from raw_customers as c
        inner join id_pseudonyms as p
            on p.domain = 'customer' and p.raw_id = c.customer_id and p.key_version = $key_version
        where p.pid = l.customer_pid and c.updated_at >= l.received_at
    );

delete from raw_customers
where rowid in (
    select c.rowid
    from raw_customers as c
    inner join id_pseudonyms as p
        on p.domain = 'customer' and p.raw_id = c.customer_id and p.key_version = $key_version
    where p.pid in (select customer_pid from rectified)
    qualify row_number() over (
        partition by p.pid
        order by c.updated_at desc, c._partition_date desc, c._file_id desc, c._row desc
    ) > 1
);

update request_log
set status = 'completed', completed_on = $logical_date, run_id = $run_id
where request_id in (select request_id from rectified);
