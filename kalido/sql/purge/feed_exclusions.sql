-- Customers whose rows go from feeds already written: erased or expired (targets), restricted,
-- objecting to a feed purpose or to everything, or whose latest choice on a feed purpose is a
-- withdrawal. Their spellings as delivered, lower-cased.
with customer_requests as (
    select p.pid
    from raw_requests as r
    inner join customer_pids as p on p.raw_id = r.customer_id
    where
        r.received_at < $cutoff and r._partition_date <= $logical_date
        and (
            r.type in ('erasure', 'restriction')
            or (
                r.type = 'objection'
                and (r.purpose is null or r.purpose in (select unnest($feed_purposes)))
            )
        )
),
latest_choice as (
    select p.pid, c.status
    from raw_consents as c
    inner join customer_pids as p on c.subject_type = 'customer' and p.raw_id = c.subject_id
    where c.recorded_at < $cutoff and c.purpose in (select unnest($feed_purposes))
    qualify row_number() over (
        partition by p.pid, c.purpose order by c.recorded_at desc, (c.status = 'withdrawn') desc
    ) = 1
),
excluded as (
    select pid from customer_requests
    union select pid from latest_choice where status = 'withdrawn'
    union select pid from target_customers
)
select distinct lower(trim(c.raw_id)) as needle
from customer_pids as c
inner join excluded as e on e.pid = c.pid
order by needle;
