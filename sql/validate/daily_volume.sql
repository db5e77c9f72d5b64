-- Rows delivered per source and landing day, against the median of the days before.
with delivered as (
    select source, partition_date, sum(rows_read) as rows
    from raw.ingest_ledger
    where status = 'ingested' and source in (select unnest($sources))
    group by source, partition_date
),
checked_days as (
    select distinct source, partition_date
    from batch_files
    where source in (select unnest($sources))
    union
    select unnest($sources) as source, $logical_date::date as partition_date
),
baseline as (
    select
        c.source,
        c.partition_date,
        median(d.rows) as baseline_rows,
        count(d.rows) as baseline_days
    from checked_days as c
    left join delivered as d
        on
            d.source = c.source
            and d.partition_date < c.partition_date
            and d.partition_date >= c.partition_date - to_days($baseline_days)
    group by c.source, c.partition_date
),
final as (
    select
        b.source,
        cast(b.partition_date as varchar) as partition_date,
        coalesce(d.rows, 0) as rows,
        b.baseline_rows,
        b.baseline_days,
        case
            when b.baseline_days >= $min_baseline_days and b.baseline_rows > 0
                then coalesce(d.rows, 0) / b.baseline_rows
        end as rows_vs_baseline
    from baseline as b
    left join delivered as d on d.source = b.source and d.partition_date = b.partition_date
)

select * from final
order by source, partition_date;
