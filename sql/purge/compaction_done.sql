-- After the compaction's rewrites: nothing is pending any more, and every erasure in effect has
-- its bytes gone as of tonight.
delete from pending_needles;

delete from pending_landing_files;

delete from pending_browsing_rows;

update request_log
set bytes_removed_on = $logical_date
where type = 'erasure' and status = 'completed' and bytes_removed_on is null;
