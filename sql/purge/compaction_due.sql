-- The earliest due date of the bytes pending removal (null: nothing pending).
select min(due_on) from pending_needles;
