-- One landing partition of pseudonymised browsing, as written to its Parquet file.
select * exclude (_partition_date)
from stg_browsing_changed
where _partition_date = $partition_date
order by event_time, event_id;
