select count(*) > 0
from duckdb_tables()
where database_name = current_database() and schema_name = 'main' and table_name = 'raw_browsing';
