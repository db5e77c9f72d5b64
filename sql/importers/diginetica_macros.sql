-- DIGINETICA's files (item views, purchases) date a row by its day (`eventdate`) and a
-- `timeframe` in ms (17 % of the purchases' past 12 hours, the longest 150 days). The row is put
-- on its day, between 06:00 and 18:00 UTC, by a monotone squeeze of the timeframe: the order
-- inside a session survives (the next-item task reads it), which wrapping it did not.
-- A macro's body is indented under its `create` by hand (LT02 would pull it to the margin).
-- noqa: disable=LT02
create or replace temp macro diginetica_squeeze(ms) as
    to_microseconds(cast(floor(43200000000.0 * ms / (ms + 3600000.0)) as bigint));

create or replace temp macro diginetica_time(eventdate, timeframe) as
    try_cast(kalido_text(eventdate) as date)::timestamp + interval 6 hour
    + diginetica_squeeze(greatest(coalesce(try_cast(kalido_text(timeframe) as double), 0), 0));

-- A known user, or else the anonymous session stands for its visitor.
create or replace temp macro diginetica_visitor(userid, sessionid) as
    coalesce(nullif(kalido_text(userid), 'NA'), 's' || kalido_text(sessionid));

-- A DIGINETICA file (';'-separated, with a header) as read: its columns, and each row's time,
-- visitor and product as both files give them.
create or replace temp macro diginetica_log(path, file_encoding) as table
    select
        *,
        diginetica_time(eventdate, timeframe) as happened_at,
        diginetica_visitor(userid, sessionid) as visitor,
        kalido_text(itemid) as product_id
    from read_csv(path, header = true, all_varchar = true, delim = ';', encoding = file_encoding);
