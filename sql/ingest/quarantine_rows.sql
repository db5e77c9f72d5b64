-- Payloads are masked for card numbers before they are written, even in the restricted zone.
insert into raw_quarantine
with quarantined as (
    select _row, _reason from classified where _status = 'quarantined'
)
select $source, $file_id, _row, _reason, kalido_mask_cards(_payload), $run_id
from rejected_rows
union all
select $source, $file_id, l._row, c._reason, kalido_mask_cards(to_json(l)::varchar), $run_id
from landed as l
inner join quarantined as c on c._row = l._row;
