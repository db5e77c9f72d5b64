-- A JSON Lines file read as text lines, so that a malformed line is kept (and quarantined)
-- instead of failing the file; lines that are not valid UTF-8 land in the rejects table.
-- Each line is checked once: an object is a valid line whose first non-blank character is '{'.
-- Blank lines are skipped, but only the few non-objects are trimmed to find them: trimming
-- every line costs more than parsing it.
create or replace temp table landed_lines as
select
    ordinality as _row,
    line,
    coalesce(
        json_valid(line) and ltrim(line, chr(9) || chr(10) || chr(13) || chr(32))[1] = '{',
        false
    ) as _object
from read_csv(
    $path, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false,
    delim = chr(1), quote = '', escape = '', hive_partitioning = false, store_rejects = true,
    rejects_table = 'kalido_rejects', rejects_scan = 'kalido_reject_scans'
) with ordinality;

create or replace temp table rejected_rows as
select
    _row,
    case
        when json_valid(line) then 'JSON line is not an object'
        else 'malformed JSON line'
    end as _reason,
    line as _payload
from landed_lines
where not _object and trim(coalesce(line, '')) <> ''
union all
select null, 'unreadable line: ' || lower(error_type), csv_line
from kalido_rejects;

-- The fields the file uses, contract or not: the others are dropped (and named in the ledger).
create or replace temp table landed_columns as
select distinct unnest(json_keys(line)) as name
from landed_lines
where _object;

-- $structure names every contract field as VARCHAR; absent fields come out NULL. The card scan
-- reads the whole line, fields outside the contract included.
create or replace temp table landed as
select _row, kalido_has_card(line) as _card, unnest(json_transform(line, $structure))
from landed_lines
where _object;

drop table landed_lines;
