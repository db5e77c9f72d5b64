-- A JSON Lines file read as text lines, so that a malformed line is kept (and quarantined)
-- instead of failing the file; lines that are not valid UTF-8 land in the rejects table.
create or replace temp table landed_lines as
select ordinality as _row, line
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
        when not json_valid(line) then 'malformed JSON line'
        else 'JSON line is not an object'
    end as _reason,
    line as _payload
from landed_lines
where not json_valid(line) or json_type(line::json) <> 'OBJECT'
union all
select null, 'unreadable line: ' || lower(error_type), csv_line
from kalido_rejects;

-- $structure names every contract field as VARCHAR; absent fields come out NULL.
create or replace temp table landed as
select _row, unnest(json_transform(line::json, $structure))
from landed_lines
where json_valid(line) and json_type(line::json) = 'OBJECT';
