-- The feed's files, written into its hidden staging directory: one row per recommended product,
-- ordered by customer and rank, the contract's columns first and the recipient pseudonym last
-- (readers by header name see the columns they know); then the removals, header only when empty.
copy (
    select
        f.customer_id, f.rank, f.product_id, f.product_title, f.product_url, f.score,
        r.recipient_pid
    from email_feed as f
    inner join feed_recipients as r on r.customer_id = f.customer_id
    order by f.customer_id, f.rank
) to $feed_csv (format csv, header true);

copy (
    select recipient_pid, reason, last_feed_date
    from email_removals
    order by recipient_pid
) to $removals_csv (format csv, header true);
