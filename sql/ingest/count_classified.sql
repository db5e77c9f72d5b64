select
    (select count(*) from rejected_rows) + count(*) as rows_read,
    count(*) filter (where _status = 'loaded') as rows_loaded,
    (select count(*) from rejected_rows) + count(*) filter (where _status = 'quarantined')
        as rows_quarantined,
    count(*) filter (where _status = 'duplicate') as duplicates_dropped
from classified;
