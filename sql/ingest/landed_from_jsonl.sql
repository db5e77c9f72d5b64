-- From the file's lines (jsonl_lines*.sql): blank lines are skipped, but only the few
-- non-objects are trimmed to find them: trimming every line costs more than parsing it.
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
select _row, _reason, _payload
from line_rejects;

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
