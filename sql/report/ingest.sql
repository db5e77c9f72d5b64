-- Row accounting of the files ingested in the period, per source: a file quarantined whole or
-- refused has a status other than 'ingested'.
select
    source,
    count(*) as files,
    count(*) filter (where status <> 'ingested') as files_not_ingested,
    count(*) filter (where dropped_columns is not null) as files_with_dropped_columns,
    sum(rows_read) as rows_read,
    sum(rows_loaded) as rows_loaded,
    sum(rows_quarantined) as rows_quarantined,
    sum(duplicates_dropped) as duplicates_dropped
from ingest_ledger
where logical_date between $date_from and $date_to
group by source
order by source;
