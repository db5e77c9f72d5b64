-- A JSON Lines file read as text lines, so that a malformed line is kept (and quarantined)
-- instead of failing the file; lines that are not valid UTF-8 land in the rejects table.
-- One pass checks each line and transforms the objects (a valid line whose first non-blank
-- character is '{'); only the other lines keep their text, as the quarantine payload.
create or replace temp table landed_lines as
select
    ordinality as _row,
    case
        when json_valid(line) and ltrim(line, chr(9) || chr(10) || chr(13) || chr(32))[1] = '{'
            then json_transform(line, $structure)
    end as _fields,
    case when _fields is null then line end as _payload
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
        when json_valid(_payload) then 'JSON line is not an object'
        else 'malformed JSON line'
    end as _reason,
    _payload
from landed_lines
where _fields is null
union all
select null, 'unreadable line: ' || lower(error_type), csv_line
from kalido_rejects;

-- $structure names every contract field as VARCHAR; absent fields come out NULL.
create or replace temp table landed as
select _row, unnest(_fields)
from landed_lines
where _fields is not null;
