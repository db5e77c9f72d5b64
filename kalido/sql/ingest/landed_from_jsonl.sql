-- A JSON Lines file read as text lines, so that a malformed line is kept (and quarantined)
-- instead of failing the file; lines that are not valid UTF-8 land in the rejects table.
-- Each line is checked once (CASE, so json_type never sees invalid JSON).
create or replace temp table landed_lines as
select
    ordinality as _row,
    line,
    case when json_valid(line) then json_type(line::json) = 'OBJECT' end as _is_object
from read_csv(
    $path, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false,
    delim = chr(1), quote = '', escape = '', hive_partitioning = false, store_rejects = true,
    rejects_table = 'kalido_rejects', rejects_scan = 'kalido_reject_scans'
) with ordinality
where trim(coalesce(line, '')) <> '';

create or replace temp table rejected_rows as
select
    _row,
    case
        when _is_object is null then 'malformed JSON line'
        else 'JSON line is not an object'
    end as _reason,
    line as _payload
from landed_lines
where not coalesce(_is_object, false)
union all
select null, 'unreadable line: ' || lower(error_type), csv_line
from kalido_rejects;

-- $structure names every contract field as VARCHAR; absent fields come out NULL.
create or replace temp table landed as
select _row, unnest(json_transform(line, $structure))
from landed_lines
where _is_object;
