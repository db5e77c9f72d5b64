-- The catalog whose main schema holds pending_browsing_rows (the connection's own first).
select t.database_name
from duckdb_tables() as t
where t.schema_name = 'main' and t.table_name = 'pending_browsing_rows' and not t.temporary
order by t.database_name = current_database() desc
limit 1;
