-- The kept rows of one file of a feed ({rows}: feed_rows or recipient_rows), in the order read,
-- to $path in the staging directory. A file left with its header only stays: the email platform
-- reads an empty day as empty.
copy (
    select * exclude (_erased)
    from {rows}
    where not _erased
) to $path (format csv, header true);
