"""Raw browsing: restricted Parquet files, one per ingested landing file, read as `raw_browsing`.

Why files and not a table of restricted/raw.duckdb: a DuckDB DELETE leaves the deleted bytes in
the database file, so a database that lost rows is copied whole, and browsing is almost all of
the raw store (10M events a day, kept 3 years). As files, a night's erasures rewrite only the
files that hold an erased person, and retention removes whole files. Parquet has no block tails:
a rewritten file holds the kept values only.

Removing rows is two steps: statements insert (_partition_date, _file_id, _row) into the temp
table raw_browsing_removed, which the view of `open_view(..., removable=True)` already leaves out,
then `rewrite_removed` writes the files without them before the caller commits.

An erasure defers the second step (issue 25: erasure immediate in effect, batched in bytes): its
rows go to the table pending_browsing_rows of restricted/raw.duckdb, which every view leaves out
until a compaction moves them to raw_browsing_removed and rewrites their files (purge.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from kalido.config import Layout
from kalido.db import QUALIFIED, connect, copy_to_file, rebuild_database, run_sql

SCHEMA_FILE = "_schema.parquet"


def file_path(layout: Layout, partition_date: date, file_id: str) -> Path:
    return layout.raw_browsing / f"dt={partition_date.isoformat()}" / f"{file_id}.parquet"


def files(layout: Layout, partitions: Iterable[str] | None = None) -> list[Path]:
    """Every browsing file (or those of some YYYY-MM-DD partitions) in partition order; none:
    the schema file, so that a reader still finds the (empty) columns. Never the schema file
    with others: DuckDB estimates a file list's rows from its first file, and an estimate of
    ~0 made a whole day the build side of a join (an L day ran out of memory)."""
    stored = sorted(layout.raw_browsing.glob("dt=*/*.parquet"))
    if partitions is not None:
        wanted = {f"dt={day}" for day in partitions}
        stored = [path for path in stored if path.parent.name in wanted]
    return _or_schema(layout, stored)


def files_of(layout: Layout, ingested: Iterable[tuple[date, str]]) -> list[Path]:
    """The browsing files of some (partition date, file id) ledger entries that still exist (a
    file can be gone: emptied by erasures or retention); none: the schema file, as `files`."""
    paths = (file_path(layout, partition_date, file_id) for partition_date, file_id in ingested)
    return _or_schema(layout, sorted(path for path in paths if path.exists()))


def _or_schema(layout: Layout, stored: list[Path]) -> list[Path]:
    if stored:
        return stored
    root = layout.raw_browsing
    schema = root / SCHEMA_FILE
    if not schema.exists():
        root.mkdir(parents=True, exist_ok=True)
        with duckdb.connect() as con:
            write(con, schema, "raw_browsing/schema", {})
    return [schema]


def open_view(
    con: duckdb.DuckDBPyConnection,
    layout: Layout,
    removable: bool = False,
    only: Iterable[tuple[date, str]] | None = None,
    stored: bool = False,
    partitions: Iterable[str] | None = None,
) -> None:
    """(Re)define the temp view raw_browsing over the files as they are now (`only`: those of
    some ledger entries, see files_of; `partitions`: those of some YYYY-MM-DD partitions), less
    the rows pending an erasure's compaction;
    `removable` for a connection on restricted/raw.duckdb that removes rows (the view then also
    leaves out raw_browsing_removed: an anti-join on every read, which only such a connection
    pays for); `stored`: every row the files hold, pending ones included (pseudonymise mirrors
    the files, see pseudonymise.py)."""
    paths = files(layout, partitions) if only is None else files_of(layout, only)
    params = {"files": [str(path) for path in paths]}
    if removable:
        run_sql(con, "raw_browsing/create_pending")
        run_sql(con, "raw_browsing/view_removable", params)
        return
    pending = None if stored else pending_table(con)
    if pending is None:
        run_sql(con, "raw_browsing/view", params)
    else:
        run_sql(con, "raw_browsing/view_pending", params, identifiers={"pending": pending})


def pending_table(con: duckdb.DuckDBPyConnection) -> str | None:
    """pending_browsing_rows, qualified by its catalog, when it holds rows (else no anti-join)."""
    found = run_sql(con, "raw_browsing/pending_catalog").fetchone()
    if found is None:
        return None
    table = f"{found[0]}.pending_browsing_rows"
    if not QUALIFIED.match(table):
        raise ValueError("the catalog of pending_browsing_rows is not a plain name")
    return table if con.execute(f"select exists (from {table})").fetchone()[0] else None


def write(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    sql: str,
    params: dict,
    identifiers: dict[str, str] | None = None,
) -> int:
    """copy_to_file; a browsing file left without rows is removed (with its partition folder
    once empty), the schema file never."""
    written = copy_to_file(con, sql, target, params, identifiers)
    if not written and target.name != SCHEMA_FILE:
        target.unlink()
        if not any(target.parent.iterdir()):
            target.parent.rmdir()
    return written


@dataclass(frozen=True)
class Rewritten:
    rows_removed: int
    files_removed: int
    files_rewritten: int


def rewrite_removed(con: duckdb.DuckDBPyConnection, layout: Layout) -> Rewritten:
    """Write every file that lost rows without them (a file left empty is deleted)."""
    hit = con.execute(
        "select _partition_date, _file_id, count(*) from raw_browsing_removed"
        " group by all order by all"
    ).fetchall()
    # A file already gone (emptied by an earlier removal) has nothing left to remove.
    hit = [h for h in hit if file_path(layout, h[0], h[1]).exists()]
    files_removed = 0
    for partition_date, file_id, _ in hit:
        path = file_path(layout, partition_date, file_id)
        params = {"source": str(path), "file_id": file_id}
        files_removed += not write(con, path, "raw_browsing/without_removed", params)
    con.execute("delete from raw_browsing_removed")
    open_view(con, layout, removable=True)
    return Rewritten(
        rows_removed=sum(n for *_, n in hit),
        files_removed=files_removed,
        files_rewritten=len(hit) - files_removed,
    )


def migrate_table(layout: Layout) -> None:
    """A home written before raw browsing became files: move its raw_browsing table out to them,
    then rebuild the database (the dropped table's bytes would otherwise stay in the file)."""
    if not layout.raw_db.exists():
        return
    with connect(layout.raw_db) as con:
        if not run_sql(con, "raw_browsing/table_exists").fetchone()[0]:
            return
        for partition_date, file_id in run_sql(con, "raw_browsing/table_files").fetchall():
            target = file_path(layout, partition_date, file_id)
            params = {"partition_date": partition_date, "file_id": file_id}
            write(con, target, "raw_browsing/from_table", params)
        con.execute("drop table main.raw_browsing")
    rebuild_database(layout.raw_db, keep_row_order=False)
