-- Every column as text, as from the other formats; the card scan reads the whole row.
create or replace temp table landed as
select
    columns(* exclude (ordinality))::varchar,
    ordinality as _row,
    kalido_has_card(concat_ws(chr(31), *columns(* exclude (ordinality)))) as _card
from read_parquet($path, hive_partitioning = false) with ordinality;

create or replace temp table rejected_rows (_row bigint, _reason varchar, _payload varchar);
