select
    count(*) as customers,
    count(*) filter (where may_profile) as may_profile,
    count(*) filter (where may_email) as may_email,
    count(*) filter (where is_minor) as excluded_minor,
    count(*) filter (where not profiling_granted) as excluded_no_consent,
    count(*) filter (where erased) as excluded_erased,
    count(*) filter (where restricted) as excluded_restricted,
    count(*) filter (where objected_profiling) as excluded_objection,
    count(*) filter (where closed) as excluded_closed,
    -- One cause per person not mailed (exclusion_cause, the strongest first): they add up to
    -- customers - may_email, day by day in the run records (the DPO report reads them there).
    count(*) filter (where exclusion_cause = 'erased') as cause_erased,
    count(*) filter (where exclusion_cause = 'minor') as cause_minor,
    count(*) filter (where exclusion_cause = 'closed') as cause_closed,
    count(*) filter (where exclusion_cause = 'restricted') as cause_restricted,
    count(*) filter (where exclusion_cause = 'objected') as cause_objected,
    count(*) filter (where exclusion_cause = 'withdrawn') as cause_withdrawn,
    count(*) filter (where exclusion_cause = 'no_consent') as cause_no_consent,
    count(*) filter (where exclusion_cause = 'inactive') as cause_inactive,
    (select count(*) from gated_events) as gated_events,
    (select count(*) from gated_orders) as gated_orders
from gate_customers;
