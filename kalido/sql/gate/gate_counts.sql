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
    (select count(*) from gated_events) as gated_events,
    (select count(*) from gated_orders) as gated_orders
from gate_customers;
