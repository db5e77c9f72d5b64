-- A JSON Lines file read as text lines, so that a malformed line is kept (and quarantined)
-- instead of failing the file; lines that are not valid UTF-8 land in the rejects table, one
-- row per line (a line can break several rules at once). A file this reader stops on is split
-- by kalido/landing_text.py instead (jsonl_lines_from_python.sql).
create or replace temp table landed_lines as
select ordinality as _row, line, kalido_json_object(line) as _object
from read_csv(
    $path, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false,
    delim = chr(1), quote = '', escape = '', hive_partitioning = false, store_rejects = true,
    rejects_table = 'kalido_rejects', rejects_scan = 'kalido_reject_scans'
) with ordinality;

create or replace temp table line_rejects as
select
    null::bigint as _row, 'unreadable line: ' || lower(min(error_type)) as _reason,
    min(csv_line) as _payload
from kalido_rejects
group by line;
