-- The lines and unreadable lines kalido/landing_text.py split (Arrow tables python_lines and
-- python_line_rejects), as jsonl_lines.sql would have read them.
create or replace temp table landed_lines as
select _row, line, kalido_json_object(line) as _object
from python_lines;

create or replace temp table line_rejects as
select _row, _reason, _payload from python_line_rejects;
