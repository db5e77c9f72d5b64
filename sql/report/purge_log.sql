-- What the purges of the period removed, per day and store (counts only).
select
    logical_date,
    store,
    sum(rows_removed) as rows_removed,
    sum(files_removed) as files_removed,
    sum(files_rewritten) as files_rewritten,
    sum(rows_archived) as rows_archived
from purge_log
where logical_date between $date_from and $date_to
group by logical_date, store
order by logical_date, store;
