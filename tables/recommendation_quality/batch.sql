-- Tonight's self-check: the upper end of the model's HR gap to trending popularity (negative:
-- the model loses by more than the luck of the sample), with both figures for the message.
select
    logical_date,
    quality_hr_at_20 as hr_at_20,
    quality_baseline_hr_at_20 as baseline_hr_at_20,
    quality_hr_gap + coalesce(quality_hr_gap_ci95, 0) as hr_gap_upper
from work.feat_recommendation_quality
where quality_hr_at_20 is not null;
