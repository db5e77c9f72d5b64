-- One row per person known to the gate, with its decision as of the logical date. Attributes and
-- activity only for people who may be profiled: for the others the warehouse publishes the
-- decision and its cause, never their data.
create table people as
with gate as (
    select user_pid, may_profile, may_email, exclusion_cause, first_activity_at, last_activity_at
    from work.gate_customers
),
customers as (
    select user_pid, age_band, gender
    from work.stg_customers
),
-- Who has gated browsing or orders in the history window.
history as (
    select user_pid from work.gate_browsing_users
    union
    select user_pid from work.gated_orders
),
-- Activity instants are naive UTC; a day is a calendar day in the business time zone.
final as (
    select
        g.user_pid,
        case when g.may_profile then c.age_band end as age_band,
        case when g.may_profile then c.gender end as gender,
        g.may_profile,
        g.may_email,
        case when g.may_profile then h.user_pid is not null end as has_history,
        case
            when g.may_profile
                then cast(timezone($timezone, timezone('UTC', g.first_activity_at)) as date)
        end as first_active_day,
        case
            when g.may_profile
                then cast(timezone($timezone, timezone('UTC', g.last_activity_at)) as date)
        end as last_active_day,
        g.exclusion_cause
    from gate as g
    inner join customers as c on c.user_pid = g.user_pid
    left join history as h on h.user_pid = g.user_pid
)
select
    user_pid, age_band, gender, may_profile, may_email, has_history, first_active_day,
    last_active_day, exclusion_cause
from final
order by user_pid;
