-- The lines of one JSON Lines landing file that an erasure removes, read exactly as ingest reads
-- the file (ingest/landed_from_jsonl.sql): every JSON object whose identifier fields ($fields, at
-- $paths) name a needle ($needle_keys: field, chr(31), lower-cased trimmed identifier), and every
-- other non-blank line, which the caller keeps unless it quotes a needle anywhere.
-- Lines are returned by content with how often they occur: the caller drops them while copying
-- the file, and checks it dropped exactly that many.
drop table if exists kalido_rejects;
drop table if exists kalido_reject_scans;

with lines as (
    select
        ordinality as _line,
        line,
        coalesce(
            json_valid(line) and ltrim(line, chr(9) || chr(10) || chr(13) || chr(32))[1] = '{',
            false
        ) as is_object
    from read_csv(
        $path, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false,
        delim = chr(1), quote = '', escape = '', hive_partitioning = false, store_rejects = true,
        rejects_table = 'kalido_rejects', rejects_scan = 'kalido_reject_scans'
    ) with ordinality
),
field_values as (
    -- Two unnests side by side pair each field with its value.
    select
        _line,
        line,
        is_object,
        unnest($fields) as field,
        unnest(case when is_object then json_extract_string(line, $paths) end) as value
    from lines
)
select line, is_object, count(distinct _line) as copies
from field_values
where
    -- Blank lines are not rows; only non-objects are trimmed to find them (as ingest does).
    (not is_object and trim(coalesce(line, '')) <> '')
    or field || chr(31) || lower(trim(value)) in (select unnest($needle_keys))
group by line, is_object;
