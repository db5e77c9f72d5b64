select distinct _partition_date, _file_id from main.raw_browsing order by all;
