-- The training copy of the raw store keeps nothing that happened at or after the split, so no
-- event after the split can reach the features (the catalogue is the snapshot as of the split).
insert into raw_browsing_removed
select _partition_date, _file_id, _row from raw_browsing where event_time >= $split;
delete from raw_orders where ordered_at >= $split;
delete from raw_consents where recorded_at >= $split;
delete from raw_customers where updated_at >= $split;
delete from raw_requests where received_at >= $split;
delete from raw_products where _partition_date > $train_day;
