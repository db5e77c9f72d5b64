-- The feed rows publish is about to write (temp table email_feed, from publish/email_feed.sql),
-- keyed by pseudonym instead of customer_id, with each recipient's state re-derived from
-- staging rather than taken from the gate: age, latest consent to each purpose the feed
-- needs, erasure. For a seeded sample of $sample_lists recipients' whole lists.
with feed as (
    select p.pid as user_pid, f.* exclude (customer_id)
    from email_feed as f
    inner join raw.id_pseudonyms as p
        on p.raw_id = f.customer_id and p.domain = 'customer' and p.key_version = $key_version
    where f.customer_id in (
        select customer_id
        from email_feed
        group by customer_id
        order by hash(customer_id, $sample_seed)
        limit $sample_lists
    )
),
latest_consent as (
    select subject_pid as user_pid, purpose, status
    from work.stg_consents
    where subject_type = 'customer'
    qualify row_number() over (
        partition by subject_pid, purpose
        order by recorded_at desc, (status = 'withdrawn') desc
    ) = 1
),
required as (
    select unnest($feed_purposes) as purpose
),
consent_gaps as (
    select r.user_pid, count(*) filter (where coalesce(c.status, 'none') <> 'granted') as missing
    from (select distinct user_pid from feed) as r
    cross join required
    left join latest_consent as c on c.user_pid = r.user_pid and c.purpose = required.purpose
    group by r.user_pid
),
erasures as (
    select distinct customer_pid as user_pid
    from work.stg_requests
    where type = 'erasure'
),
final as (
    select
        f.user_pid,
        f.rank,
        f.product_id,
        f.product_title,
        f.product_url,
        f.score,
        row_number() over (partition by f.user_pid order by f.rank, f.product_id)
            as rank_position,
        coalesce(isfinite(f.score), false) as score_is_finite,
        coalesce(c.is_minor, true) as is_minor,
        g.missing as feed_consents_missing,
        e.user_pid is not null as erased,
        coalesce(p.in_stock, false) as in_stock
    from feed as f
    left join work.stg_customers as c on c.user_pid = f.user_pid
    left join consent_gaps as g on g.user_pid = f.user_pid
    left join erasures as e on e.user_pid = f.user_pid
    left join work.stg_products as p on p.product_id = f.product_id
)

select * from final;
