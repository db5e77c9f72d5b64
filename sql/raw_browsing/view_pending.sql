-- raw_browsing while erasures wait for their compaction: the restricted Parquet files less the
-- rows whose bytes are pending removal ({pending}: the table pending_browsing_rows, qualified
-- by the catalog that holds it).
set variable raw_browsing_files = $files;

create or replace temp view raw_browsing as
select b.*
from read_parquet(getvariable('raw_browsing_files'), hive_partitioning = false) as b
anti join {pending} as p on p._file_id = b._file_id and p._row = b._row;
