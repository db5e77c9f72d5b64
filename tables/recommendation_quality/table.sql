-- The nightly self-check of the recommendations (features/holdout.py), one row per logical date
-- from its latest successful run: HR/MRR@20 on products new to a sample of people in the
-- held-back week, the same for trending popularity (held to the same k), catalogue coverage,
-- the paired HR gap (model - trending) with its 95 % half-width, and the weights used.
create table recommendation_quality (
    logical_date date primary key, run_id varchar not null, users bigint not null,
    hr_at_20 double, mrr_at_20 double, baseline_hr_at_20 double, baseline_mrr_at_20 double,
    coverage double, baseline_coverage double, hr_gap double, hr_gap_ci95 double, weights json
);
