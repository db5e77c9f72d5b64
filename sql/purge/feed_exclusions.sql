-- Customers whose rows go from feeds already written: erased or expired (targets), restricted,
-- objecting to a feed purpose or to everything, or whose latest choice on a feed purpose is a
-- withdrawal. Their spellings as delivered, lower-cased, each with the reason class the feed's
-- removals.csv gives (email_feed.REASON_CLASSES; the strongest when several apply).
with customer_requests as (
    select
        p.pid,
        case r.type when 'erasure' then 'erased' when 'objection' then 'objected' else 'other' end
            as reason
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
    select pid, reason from customer_requests
    union all
    select pid, 'consent_withdrawn' from latest_choice where status = 'withdrawn'
    union all
    select pid, case when reason = 'expired' then 'inactive' else 'erased' end
    from target_customers
)
select
    lower(trim(c.raw_id)) as needle,
    arg_min(
        e.reason,
        list_position(['erased', 'objected', 'consent_withdrawn', 'inactive', 'other'], e.reason)
    ) as reason
from customer_pids as c
inner join excluded as e on e.pid = c.pid
group by needle
order by needle;
