-- The feed's files, written into its hidden staging directory: one row per recommended product,
-- ordered by customer and rank, exactly the contract's columns in its order; each recipient once
-- with their recipient pseudonym (recipients.csv, ordered by customer), the key removals.csv names
-- people by; then the removals. Files with nobody in them hold their header only.
copy (
    select customer_id, rank, product_id, product_title, product_url, score
    from email_feed
    order by customer_id, rank
) to $feed_csv (format csv, header true);

copy (
    select customer_id, recipient_pid
    from feed_recipients
    order by customer_id
) to $recipients_csv (format csv, header true);

copy (
    select recipient_pid, reason, last_feed_date
    from email_removals
    order by recipient_pid
) to $removals_csv (format csv, header true);
