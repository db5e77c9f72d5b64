-- Session sequences without users or clocks (e.g. DIGINETICA preprocessed): one line per
-- session, comma-separated item ids in order. Each session is its own visitor; sessions are
-- spread evenly over the given days from the start date in file order, their views 30 seconds
-- apart.
create or replace temp table imp_lines as
select ordinality as session_no, line
from read_csv(
    $path, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false, delim = chr(1),
    quote = '', escape = '', encoding = $encoding
) with ordinality;

create or replace temp table imp_source as
with items as (
    select
        session_no, unnest(string_split(line, ',')) as item,
        unnest(generate_series(1, len(string_split(line, ',')))) as position
    from imp_lines
),
spacing as (
    select $days * 86400.0 / greatest(count(*), 1) as seconds from imp_lines
)
select
    's' || session_no as visitor,
    $start::timestamp
    + to_seconds(cast(floor((session_no - 1) * spacing.seconds) as bigint) + 30 * position)
        as happened_at,
    nullif(trim(item), '') as product_id
from items, spacing;

insert into imp_rows by name
select visitor, happened_at, 'product_view' as kind, product_id, product_id is null as skipped
from imp_source;
