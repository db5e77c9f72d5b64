insert into {raw_table} by name
select
    v.* exclude (_reason),
    cast($partition_date as date) as _partition_date,
    $file_id as _file_id
from validated as v
inner join classified as c on c._row = v._row
where c._status = 'loaded';
