"""DuckDB access: connections, SQL files with named parameters, atomic file publication."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import re
import sys
import time
import types
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from kalido.cards import CARD_PREFILTER_RE2, mask_cards
from kalido.pseudonyms import HEX_DIGITS, TOKEN_LETTERS

log = logging.getLogger(__name__)

# DuckDB's share of a stage's memory (KALIDO_DUCKDB_MEMORY_LIMIT overrides): the nightly run must
# stay under 4 GB at retail scale, and the recommender's arrays need the rest.
DEFAULT_MEMORY_LIMIT = "2GB"
# Beside expectations/ at the top of the project, one folder per stage (like the DAG tasks).
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# A published table's statements sit beside its suite and descriptions (tables/<table>/), and are
# named "tables/<table>/<file>" here.
TABLES_DIR = SQL_DIR.parent / "tables"
# What the fork server of the stage processes imports before it forks them (see in_fresh_process):
# kalido.lifeline first, so that it dies with the run from the start.
FORKSERVER_PRELOAD = ["kalido.lifeline", "kalido.pipelines.nightly"]
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")  # a plain name, safe to place in SQL text
QUALIFIED = re.compile(r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$")  # the same, catalog first


@cache
def sql_text(name: str) -> str:
    """The text of sql/<name>.sql, or of tables/<table>/<file>.sql for a name "tables/..."."""
    table_file = name.removeprefix("tables/")
    path = TABLES_DIR / table_file if table_file != name else SQL_DIR / name
    return path.with_name(path.name + ".sql").read_text(encoding="utf-8")


def _statements(text: str) -> list[str]:
    # A statement ends with ';' at the end of a line; SQL files keep one statement per such end.
    parts = re.split(r";\s*$", text, flags=re.MULTILINE)
    return [p.strip() for p in parts if re.sub(r"--[^\n]*", "", p).strip()]


def bound_statements(
    name: str,
    params: Mapping[str, Any] | None = None,
    identifiers: Mapping[str, str] | None = None,
) -> list[tuple[str, dict | None]]:
    """The statements of sql/<name>.sql, each with the `$params` it uses.

    `identifiers` fills `{placeholders}` with names (optionally catalog.name) from a fixed list
    only (checked here), never with data.
    """
    text = sql_text(name)
    for key, value in (identifiers or {}).items():
        for part in value.split(", "):
            if not QUALIFIED.match(part):
                raise ValueError(f"not a plain identifier list for {key}")
        text = text.replace("{" + key + "}", value)
    params = dict(params or {})
    bound = []
    for statement in _statements(text):
        # A $name in a comment is not a parameter of the statement.
        code = re.sub(r"--[^\n]*", "", statement)
        used = {p: params[p] for p in set(_PARAM.findall(code))}
        bound.append((statement, used or None))
    return bound


def run_sql(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    identifiers: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Run every statement of sql/<name>.sql (see bound_statements); the last one's result."""
    result = con
    for number, (statement, used) in enumerate(bound_statements(name, params, identifiers), 1):
        started = time.perf_counter()
        result = con.execute(statement, used)
        log.debug("sql %s #%d: %.3f s", name, number, time.perf_counter() - started)
    return result


def _spill_dir(path: Path | str) -> Path:
    """Beside a database file, so that its spill stays in the file's zone."""
    return Path(path).with_name(Path(path).name + ".spill")


def _bounded(con: duckdb.DuckDBPyConnection, spill_dir: Path) -> None:
    """Cap DuckDB's memory (its default is 80 % of the machine) and spill past the cap into
    spill_dir, which must lie in the zone of the data the connection reads. No progress bar:
    it floods task logs (Airflow, CI) with terminal control lines."""
    limit = os.environ.get("KALIDO_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    con.execute("set memory_limit = $limit", {"limit": limit})
    con.execute("set temp_directory = $dir", {"dir": str(spill_dir)})
    con.execute("set enable_progress_bar = false")


def connect(
    path: Path | str = ":memory:",
    timezone: str = "UTC",
    read_only: bool = False,
    spill_dir: Path | None = None,
):
    """A DuckDB connection whose naive timestamps mean local time in `timezone`. A database file
    spills beside itself; an in-memory connection must be told where (the zone of the data it
    reads, e.g. Layout.spill: it may attach restricted data)."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        spill_dir = _spill_dir(path)
    elif spill_dir is None:
        raise ValueError("an in-memory connection needs a spill_dir in its data's zone")
    else:
        spill_dir.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    _bounded(con, spill_dir)
    con.execute("set TimeZone = $tz", {"tz": timezone})
    con.create_function(
        "kalido_mask_cards",
        mask_cards,
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        null_handling="special",
        side_effects=False,
    )
    # Landing values are text; blank means absent. Naive timestamps take the session time zone
    # (the business time zone) and everything is stored as naive UTC.
    con.execute("create or replace temp macro kalido_text(x) as nullif(trim(x::varchar), '')")
    # A JSON line holds an object: valid, and its first non-blank character is '{'.
    con.execute(
        "create or replace temp macro kalido_json_object(line) as coalesce(json_valid(line) "
        "and ltrim(line, chr(9) || chr(10) || chr(13) || chr(32))[1] = '{', false)"
    )
    # Digits only: a cast would round '1.5' to 2.
    con.execute(
        "create or replace temp macro kalido_integer(x) as case "
        "when regexp_matches(kalido_text(x), '^[+-]?[0-9]{1,9}$') "
        "then try_cast(kalido_text(x) as integer) end"
    )
    # Each value is parsed on its own: an offset or Z is applied by arithmetic, no offset means
    # the session (business) time zone. DuckDB's own cast to timestamptz accepts named zones and
    # then reads the naive values after one in that zone; a named zone is no timestamp here.
    con.execute(
        "create or replace temp macro kalido_ts_parts(x) as regexp_extract(x, "
        r"'^(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?) ?"
        r"(?:(Z)|([+-])(\d{2}):?(\d{2})?)?$', ['local', 'z', 'sign', 'hh', 'mm'])"
    )
    con.execute(
        "create or replace temp macro kalido_ts_from_parts(m) as case "
        "when m.local = '' then null "
        "when m.z = '' and m.sign = '' then timezone('UTC', "
        "timezone(current_setting('TimeZone'), try_cast(m.local as timestamp))) "
        "else try_cast(m.local as timestamp) - (case m.sign when '-' then -1 else 1 end) "
        "* to_minutes(coalesce(try_cast(nullif(m.hh, '') as int), 0) * 60 "
        "+ coalesce(try_cast(nullif(m.mm, '') as int), 0)) "
        "end"
    )
    con.execute(
        "create or replace temp macro kalido_ts(x) as "
        "kalido_ts_from_parts(kalido_ts_parts(kalido_text(x)))"
    )
    con.execute(
        # CASE, not AND: only CASE keeps DuckDB from calling the Python UDF on every row.
        "create or replace temp macro kalido_has_card(txt) as "
        "case when regexp_matches(txt, $re) then kalido_mask_cards(txt) <> txt "
        "else false end".replace("$re", "'" + CARD_PREFILTER_RE2 + "'")
    )
    con.execute(
        f"create or replace temp macro kalido_token(hex) as "
        f"translate(hex, '{HEX_DIGITS}', '{TOKEN_LETTERS}')"
    )
    return con


def replace_atomically(tmp: Path, final: Path) -> None:
    """Swap a fully written file into place; readers holding the old one keep their inode."""
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def sha256_of(path: Path) -> str:
    """A file's hex SHA-256, read in 1 MiB blocks: landing files and feed parts can be large."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text_whole(path: Path, text: str) -> None:
    """Write beside, then rename: a failed write (a full disk) leaves no partial or empty file,
    and a reader sees the old text or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def copy_to_file(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    target: Path,
    params: Mapping[str, Any],
    identifiers: Mapping[str, str] | None = None,
) -> int:
    """Run sql/<sql>.sql, a `COPY (...) TO $target` statement, into a hidden file beside target,
    then swap it in; the rows written. A COPY statement, not a Python relation: with parameters
    (con.sql(..., params=...)) the result is held in memory first, then written on one thread
    (an L browsing partition: 27 s against 11 s)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        written = run_sql(con, sql, {**params, "target": str(tmp)}, identifiers).fetchone()[0]
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    replace_atomically(tmp, target)
    return written


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, read_only: bool = True) -> None:
    """ATTACH takes no parameters: the path (configuration, never data) is quoted here."""
    if not IDENTIFIER.match(alias):
        raise ValueError("attach alias must be a plain identifier")
    literal = "'" + str(path).replace("'", "''") + "'"
    con.execute(f"attach {literal} as {alias}" + (" (read_only)" if read_only else ""))


def rebuild_database(path: Path, keep_row_order: bool = True) -> None:
    """Copy the live rows of a DuckDB file into a fresh file and swap it in.

    Used for physical deletion (DELETE leaves the old bytes in the file) and to shed stale bytes:
    DuckDB can write leftover buffer memory into the unused tail of a block, so a file written by
    a process that read identifiers may hold some; the copy holds values only. Without
    `keep_row_order` (tables whose rows carry their own order) the copy runs on every core.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.rebuild")
    tmp.unlink(missing_ok=True)
    with duckdb.connect() as con:
        _bounded(con, _spill_dir(path))
        con.execute("set preserve_insertion_order = $keep", {"keep": keep_row_order})
        attach(con, path, "old")
        attach(con, tmp, "fresh", read_only=False)
        con.execute("copy from database old to fresh")
        con.execute("detach fresh")
    replace_atomically(tmp, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def rebuild_in_fresh_process(path: Path) -> None:
    """rebuild_database in a newly spawned process, whose memory never held an identifier."""
    in_fresh_process(rebuild_database, path)


def in_fresh_process(fn, *args):
    """fn(*args) in a new process whose memory never held an identifier.

    Forked from a fork server that only imported the package (never opened a database), which is
    much cheaper than spawning an interpreter per call.
    """
    from kalido import lifeline

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(FORKSERVER_PRELOAD)
    # Both die with their parent (kill -9 of a run leaves no process holding a database), and
    # neither imports from the working directory (see lifeline.py).
    lifeline.start_forkserver()
    with ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=lifeline.die_with_parent
    ) as pool:
        # A child re-runs the parent's __main__ before it works. Under an Airflow executor that
        # is the airflow command, whose import fails in a task process (the metadata DB address
        # is withheld from tasks); the child needs nothing from it, so it sees a bare __main__.
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            future = pool.submit(_with_environment, dict(os.environ), fn, *args)
        finally:
            sys.modules["__main__"] = main
        return future.result()


def _with_environment(environment: dict, fn, *args):
    # The fork server keeps the environment it started with; the caller's may have changed since.
    os.environ.clear()
    os.environ.update(environment)
    from kalido import lifeline

    lifeline.configure_logging()  # forked from a fork server that never configured it
    return fn(*args)
