-- The raw rows one landing source's files of this batch loaded (contract columns only).
select {columns}
from {raw_relation}
where _file_id in (
    select file_id from batch_files where source = $source and status = 'ingested'
);
