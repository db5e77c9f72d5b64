"""The analyst warehouse's house rules, applied by publish to a new warehouse before it is swapped
in: one description per table and column (`warehouse_columns.yaml`, written as COMMENT ON), one
timestamp type (TIMESTAMPTZ in UTC), the date it was built for (`published_as_of`), and a
read-only file with no write-ahead log beside it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import yaml

from kalido.db import IDENTIFIER, replace_atomically, run_sql

log = logging.getLogger(__name__)

DESCRIPTIONS = Path(__file__).with_name("warehouse_columns.yaml")
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


def load_descriptions(path: Path = DESCRIPTIONS) -> dict[str, TableDoc]:
    """The description file, table name -> TableDoc (ValueError when malformed)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    docs = {}
    for table, entry in data.items():
        if not IDENTIFIER.match(str(table)) or not isinstance(entry, dict):
            raise ValueError(f"{path.name}: {table!r} must be a plain table name with a mapping")
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


def record_as_of(con: duckdb.DuckDBPyConnection, logical_date: date, run_id: str, at: str) -> None:
    """The published_as_of row: what this warehouse was built for."""
    run_sql(
        con,
        "publish/published_as_of",
        {"logical_date": logical_date, "run_id": run_id, "published_at": at},
    )


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
