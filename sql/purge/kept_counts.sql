-- What an erasure rewrite removes from and keeps of one file of a feed ({rows}: feed_rows or
-- recipient_rows): rows removed, rows kept, distinct customers kept.
select
    count(*) filter (where _erased) as removed,
    count(*) filter (where not _erased) as kept,
    count(distinct customer_id) filter (where not _erased) as customers
from {rows};
