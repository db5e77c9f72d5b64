-- Quarantine reasons and counts only; the rows themselves stay in the restricted zone.
create table quarantine_summary as
select source, reason, count(*) as rows
from raw.raw_quarantine
group by source, reason
order by source, reason;
