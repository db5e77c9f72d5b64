-- No rows, raw browsing's columns: always among the files the view reads, so that a home without
-- any browsing file still has an (empty) raw_browsing.
copy (
    select
        cast(null as varchar) as event_id,
        cast(null as timestamp) as event_time,
        cast(null as varchar) as event_type,
        cast(null as varchar) as cookie_id,
        cast(null as varchar) as customer_id,
        cast(null as varchar) as session_id,
        cast(null as varchar) as product_id,
        cast(null as varchar) as page_url,
        cast(null as varchar) as referrer,
        cast(null as varchar) as ip_address,
        cast(null as varchar) as user_agent,
        cast(null as date) as _partition_date,
        cast(null as varchar) as _file_id,
        cast(null as bigint) as _row
    where false
) to $target (format parquet, compression zstd);
