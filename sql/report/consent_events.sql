-- Consent choices recorded in the period, per day (business time zone), purpose, subject type
-- and status: counts of the events still held (an erased person's choices are gone with them).
with events as (
    select
        cast(timezone($timezone, timezone('UTC', recorded_at)) as date) as day,
        purpose,
        subject_type,
        status
    from raw_consents
)

select
    day,
    purpose,
    subject_type,
    count(*) filter (where status = 'granted') as granted,
    count(*) filter (where status = 'withdrawn') as withdrawn
from events
where day between $date_from and $date_to
group by day, purpose, subject_type
order by day, purpose, subject_type;
