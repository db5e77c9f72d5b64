-- The header is read first (see ingest.py) so that every column is read as text and a bad line
-- is rejected on its own instead of breaking dialect detection for the whole file. The card
-- scan reads the whole row, columns outside the contract included.
create or replace temp table landed as
select
    * exclude (ordinality),
    ordinality as _row,
    kalido_has_card(concat_ws(chr(31), *columns(* exclude (ordinality)))) as _card
from read_csv(
    $path, columns = $columns, header = true, auto_detect = false, delim = ',', quote = '"',
    escape = '"', hive_partitioning = false, store_rejects = true,
    rejects_table = 'kalido_rejects', rejects_scan = 'kalido_reject_scans'
) with ordinality;

create or replace temp table rejected_rows as
select
    null::bigint as _row,
    'unreadable CSV line: ' || lower(min(error_type)) as _reason,
    min(csv_line) as _payload
from kalido_rejects
group by line;
