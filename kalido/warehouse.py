"""The analyst warehouse: its tables (one folder each under tables/, see tables/README.md) and the
house rules publish applies to a new warehouse before it is swapped in: one description per table
and column (`columns.yaml`, written as COMMENT ON), one timestamp type (TIMESTAMPTZ in UTC), the
date it was built for (`published_as_of`), and a read-only file with no write-ahead log beside
it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import yaml

from kalido.db import IDENTIFIER, TABLES_DIR, replace_atomically, run_sql

log = logging.getLogger(__name__)

READ_ONLY = 0o444  # readers open it read-only while runs publish; nobody writes it in place


@dataclass(frozen=True)
class TableDoc:
    """One published table's description and its columns' descriptions."""

    description: str
    columns: dict[str, str]

    def __post_init__(self) -> None:
        texts = [self.description, *self.columns.values()]
        if not all(isinstance(text, str) and text.strip() for text in texts):
            raise ValueError("every table and column description must be a non-empty text")
        for name in self.columns:
            if not IDENTIFIER.match(name):
                raise ValueError(f"not a plain column name: {name!r}")


def table_names(directory: Path = TABLES_DIR) -> list[str]:
    """Every published table: the folders of tables/ with a table.sql, in name order."""
    return sorted(path.parent.name for path in directory.glob("*/table.sql"))


def build_tables(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """Every published table in a new warehouse (none reads another); `params` holds what any of
    their statements needs."""
    for table in table_names():
        run_sql(con, f"tables/{table}/table", params)


def load_descriptions(directory: Path = TABLES_DIR) -> dict[str, TableDoc]:
    """Every table's columns.yaml, table name -> TableDoc (ValueError when malformed)."""
    docs = {}
    for path in sorted(directory.glob("*/columns.yaml")):
        table = path.parent.name
        entry = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not IDENTIFIER.match(table) or not isinstance(entry, dict):
            raise ValueError(f"tables/{table}: a plain table name with a columns.yaml mapping")
        docs[table] = TableDoc(entry.get("description"), dict(entry.get("columns") or {}))
    return docs


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """table -> column -> data type, for the tables of the connection's own database."""
    rows = con.execute(
        "select table_name, column_name, data_type from duckdb_columns()"
        " where database_name = current_database() and schema_name = 'main' and not internal"
        " order by table_name, column_index"
    ).fetchall()
    found: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        found.setdefault(table, {})[column] = data_type
    return found


def _literal(text: str) -> str:
    # COMMENT ON takes a string literal, not a parameter; the text is the package's own file.
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


def write_comments(con: duckdb.DuckDBPyConnection) -> list[str]:
    """COMMENT ON every table and column of the warehouse from the description file; the
    `table` / `table.column` names it does not describe (a gap the docs test fails on: the night
    still publishes)."""
    docs = load_descriptions()
    undescribed = []
    for table, columns in _columns(con).items():
        doc = docs.get(table)
        if doc is None:
            undescribed.append(table)
            continue
        if not IDENTIFIER.match(table):
            raise ValueError(f"not a plain table name: {table!r}")
        con.execute(f'comment on table "{table}" is {_literal(doc.description)}')
        for column in columns:
            text = doc.columns.get(column)
            if text is None:
                undescribed.append(f"{table}.{column}")
            elif IDENTIFIER.match(column):
                con.execute(f'comment on column "{table}"."{column}" is {_literal(text)}')
    if undescribed:
        log.warning("warehouse columns without a description: %s", ", ".join(undescribed))
    return undescribed


def timestamps_to_utc(con: duckdb.DuckDBPyConnection) -> int:
    """Turn every naive timestamp column (UTC by the pipeline's convention) into TIMESTAMPTZ, so
    a reader's client never shifts them by its own time zone; the columns converted."""
    if con.execute("select current_setting('TimeZone')").fetchone()[0] != "UTC":
        raise ValueError("naive timestamps are UTC: convert them on a UTC connection")
    converted = 0
    for table, columns in _columns(con).items():
        for column, data_type in columns.items():
            if data_type.startswith("TIMESTAMP") and "TIME ZONE" not in data_type:
                run_sql(
                    con, "publish/timestamp_to_utc", identifiers={"table": table, "column": column}
                )
                converted += 1
    return converted


def published_date(path: Path) -> date | None:
    """The logical date the warehouse at `path` was built for (None: no warehouse, or one
    published before published_as_of existed)."""
    if not path.is_file():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        found = con.execute(
            "select 1 from duckdb_tables() where table_name = 'published_as_of'"
        ).fetchone()
        if not found:
            return None
        row = con.execute("select max(logical_date) from published_as_of").fetchone()
    return row[0] if row else None


def swap_in(draft: Path, final: Path) -> None:
    """Make the new warehouse read-only and swap it in. A write-ahead log beside the old file
    can only be a writer's leftover (publish holds the run lock): DuckDB would replay it onto
    the new file (shown to drop half of `recommendations`), so it goes first."""
    draft.chmod(READ_ONLY)
    wal = final.with_name(final.name + ".wal")
    if wal.exists():
        log.warning("removed a stale %s left by a writer of the old warehouse", wal.name)
        wal.unlink()
    replace_atomically(draft, final)
