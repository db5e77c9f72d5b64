-- removals.csv: the recipients of the previous complete feed ($previous_date) who may no longer
-- be mailed, so that the email platform suppresses them on its side. By recipient pseudonym and
-- reason class only: never the customer_id, never the details of the reason.
-- previous_recipients / previous_removals: that feed's customer_id column and its removals.csv,
-- as text (registered by publish; empty when there is no previous feed).
create or replace temp table email_removals as
with previous as (
    select distinct customer_id from previous_recipients
),
-- Tonight's gate decision for each of them; the feed spells customer_id as delivered, which is
-- how the identity table holds it (see email_feed.sql).
decided as (
    select
        kalido_recipient_pid(prev.customer_id) as recipient_pid,
        coalesce(g.may_email, false) as may_email,
        g.exclusion_cause
    from previous as prev
    left join raw.id_pseudonyms as p
        on p.raw_id = prev.customer_id and p.domain = 'customer' and p.key_version = $key_version
    left join work.gate_customers as g on g.user_pid = p.pid
),
from_gate as (
    select
        recipient_pid,
        case
            when exclusion_cause = 'erased' then 'erased'
            when exclusion_cause = 'objected' then 'objected'
            when exclusion_cause in ('withdrawn', 'no_consent') then 'consent_withdrawn'
            when exclusion_cause = 'inactive' then 'inactive'
            -- minor, closed, restricted, or no longer held at all
            else 'other'
        end as reason
    from decided
    where not may_email
),
-- People a purge took out of the previous feed after it was written (an erasure, a withdrawal):
-- the platform received them in it, so they are listed again for whoever reads only this feed.
from_rewrites as (
    select recipient_pid, reason
    from previous_removals
    where try_cast(last_feed_date as date) = $previous_date
),
candidates as (
    select recipient_pid, reason from from_gate
    union all
    select recipient_pid, reason from from_rewrites
),
-- One row per recipient, the strongest reason first; nobody who is in tonight's feed.
final as (
    select
        recipient_pid,
        arg_min(
            reason,
            list_position(['erased', 'objected', 'consent_withdrawn', 'inactive', 'other'], reason)
        ) as reason
    from candidates
    where recipient_pid not in (select recipient_pid from feed_recipients)
    group by recipient_pid
)
select recipient_pid, reason, cast($previous_date as date) as last_feed_date
from final;
