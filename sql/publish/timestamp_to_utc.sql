-- The pipeline keeps instants as naive UTC timestamps; the warehouse publishes them as
-- TIMESTAMPTZ so that no reader's client shifts them by its own time zone. Run on a connection
-- whose TimeZone is UTC, the cast keeps every instant as it is.
alter table "{table}" alter column "{column}" set data type timestamptz;
