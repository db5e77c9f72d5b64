-- The people table as publish builds it (table.sql beside, run just before on this connection),
-- with the gate's rules as flags: nobody is mailed without being profiled, the data of people
-- who may not be profiled is never shown, and a cause is given exactly when someone is not mailed.
select
    user_pid,
    age_band,
    gender,
    may_profile,
    may_email,
    exclusion_cause,
    may_email and not may_profile as mailed_without_profiling,
    not may_profile and (
        age_band is not null
        or gender is not null
        or has_history is not null
        or first_active_day is not null
        or last_active_day is not null
    ) as data_shown_without_profiling,
    (exclusion_cause is null) = may_email as cause_given_when_not_mailed,
    first_active_day <= last_active_day as active_days_in_order
from people;
