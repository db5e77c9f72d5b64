-- The raw browsing files of this batch (raw_browsing.files_of), so that landing.browsing reads
-- them only: reading every file kept would grow with history.
select partition_date, file_id
from batch_files
where source = 'browsing' and status = 'ingested'
order by all;
