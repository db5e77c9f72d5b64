-- A CSV file split into records by kalido/landing_text.py (DuckDB's reader could not read it
-- line by line): its good records as python_records (every column text), its bad lines as
-- python_line_rejects.
create or replace temp table landed as
select
    * exclude (_row),
    _row,
    kalido_has_card(concat_ws(chr(31), *columns(* exclude (_row)))) as _card
from python_records;

create or replace temp table rejected_rows as
select _row, _reason, _payload from python_line_rejects;
