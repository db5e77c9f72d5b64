-- A contract column absent from a file reads as NULL, so "required" checks quarantine its rows.
alter table landed add column if not exists {column} varchar;
