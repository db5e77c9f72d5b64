-- A CSV file split into records by kalido/landing_csv.py (which DuckDB's reader could not read
-- line by line): its good records as $records (an Arrow table, every column text), its bad
-- lines as $rejects.
create or replace temp table landed as
select
    * exclude (_row),
    _row,
    kalido_has_card(concat_ws(chr(31), *columns(* exclude (_row)))) as _card
from landed_records;

create or replace temp table rejected_rows as
select _row, _reason, _payload from landed_rejects;
