copy (
    select
        event_id, event_time, event_type, cookie_id, customer_id, session_id, product_id,
        page_url, referrer, ip_address, user_agent, _partition_date, _file_id, _row
    from main.raw_browsing
    where _partition_date = $partition_date and _file_id = $file_id
) to $target (format parquet, compression zstd);
