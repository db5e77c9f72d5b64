create or replace temp table landed as
select * exclude (ordinality), ordinality as _row
from read_parquet($path, hive_partitioning = false) with ordinality;

create or replace temp table rejected_rows (_row bigint, _reason varchar, _payload varchar);
