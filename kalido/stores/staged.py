"""Staged browsing: pseudonymised Parquet partitions (one per landing day) with their manifest
of signatures, read as the temporary view stg_browsing, less the rows pending an erasure's
compaction; and each partition's summaries (its (cookie, customer) pairs and its sessions),
read as stg_browsing_pairs and stg_browsing_sessions."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from kalido.config import Layout, Settings
from kalido.db import connect, copy_to_file, run_sql, sql_text, write_text_whole
from kalido.stores import raw_browsing

MANIFEST = "manifest.json"  # landing date -> the digests its Parquet file was written from
SCHEMA_FILE = "schema.parquet"  # no rows: stg_browsing's columns when there is no partition
# (event_id, event_time) of the raw rows pending an erasure's compaction: stg_browsing leaves them
# out. Staged partitions mirror the raw files (pending rows included), so that an erasure rewrites
# no partition the night it arrives; the compaction rewrites both (compact_staging).
PENDING_FILE = "pending_removal.parquet"
# The (cookie, customer) pairs of those rows (write_pending_pairs): the summaries, which still
# count them, are read less these pairs.
PENDING_PAIRS_FILE = "pending_pairs.parquet"
# Beside the raw browsing files: each file's numbers for partition_signatures.
SIGNATURES_FILE = "_signatures.json"
# A partition's summaries (sql/pseudonymise/summary_macros.sql), written beside it whenever it is
# written: the readers of pairs and sessions group these, not every event of the history.
SUMMARIES = ("pairs", "sessions")


def partition_signatures(
    settings: Settings, logical_date: date, partitions: Iterable[str] | None = None
) -> dict[str, dict]:
    """Landing date -> digests of its raw browsing rows as the files hold them (`rows`: every
    row; `files`: the files only) with the key and the staging SQL, and its row count. Unchanged
    `rows`: the Parquet file is reused; same `files` and fewer rows: it is filtered; otherwise it
    is pseudonymised again.

    Each file's numbers are kept beside the files (SIGNATURES_FILE) under its size, mtime and
    inode, and read again only when those change (ingest writes, purge rewrites): a night reads
    its new files, not the history."""
    recipe = hashlib.sha256(sql_text("pseudonymise/build_staging").encode()).hexdigest()
    base = f"{recipe}|{settings.key_version}|{settings.key_fingerprint}"
    per_file = _file_signatures(settings.layout, logical_date, partitions)
    days: dict[str, list] = defaultdict(lambda: [0, 0, 0])
    for entry in per_file.values():
        day = days[entry["day"]]
        day[0] += entry["rows"]
        day[1] ^= entry["row_hash"]
        day[2] ^= entry["file_hash"]
    return {
        day: {
            "rows": hashlib.sha256(f"{base}|{count}|{row_hash}".encode()).hexdigest(),
            "files": hashlib.sha256(f"{base}|{file_hash}".encode()).hexdigest(),
            "row_count": count,
        }
        for day, (count, row_hash, file_hash) in sorted(days.items())
    }


def _file_signatures(
    layout: Layout, logical_date: date, partitions: Iterable[str] | None
) -> dict[str, dict]:
    """Relative path -> {day, stat, rows, row_hash, file_hash} of the raw browsing files of the
    partitions up to the logical date; the record of every file is refreshed as a side effect."""
    root = layout.raw_browsing
    record_path = root / SIGNATURES_FILE
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}  # no usable record: every file is read once
    found = {}
    for path in raw_browsing.files(layout):
        if path.name == raw_browsing.SCHEMA_FILE:
            continue
        info = path.stat()
        relative = path.relative_to(root).as_posix()
        found[relative] = {
            "day": path.parent.name.removeprefix("dt="),
            "stat": [info.st_size, info.st_mtime_ns, info.st_ino],
        }
    stale = [
        name for name, entry in found.items() if record.get(name, {}).get("stat") != entry["stat"]
    ]
    if stale:
        with connect(spill_dir=layout.spill) as con:
            rows = run_sql(
                con, "pseudonymise/file_signatures", {"files": [str(root / n) for n in stale]}
            ).fetchall()
        read = {Path(path).relative_to(root).as_posix(): numbers for path, *numbers in rows}
        for name in stale:
            count, row_hash, file_hash = read.get(name, (0, 0, 0))
            found[name] |= {"rows": count, "row_hash": row_hash, "file_hash": file_hash}
    for name, entry in found.items():
        if name not in stale:
            entry |= {k: record[name][k] for k in ("rows", "row_hash", "file_hash")}
    if stale or set(record) != set(found):
        write_text_whole(record_path, json.dumps(found, sort_keys=True))
    wanted = None if partitions is None else set(partitions)
    last = logical_date.isoformat()
    return {
        name: entry
        for name, entry in found.items()
        if entry["day"] <= last and (wanted is None or entry["day"] in wanted)
    }


def read_manifest(directory: Path) -> dict:
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no usable record: every partition is pseudonymised again


def partition_file(directory: Path, day: str) -> Path:
    return directory / f"dt={day}" / "events.parquet"


def summary_file(events: Path, summary: str) -> Path:
    return events.with_name(f"{events.stem}.{summary}.parquet")


def _summary_record(events: Path) -> Path:
    """The partition's last event time, written after its summaries: without it (a write that
    stopped half way), no summary stands for the partition."""
    return events.with_name(f"{events.stem}.summary.json")


def write_partition(
    con: duckdb.DuckDBPyConnection, directory: Path, day: str, sql: str, params: dict
) -> None:
    """Write a staged partition with sql/<sql>.sql (a COPY to $target), then its summaries."""
    events = partition_file(directory, day)
    # Before the new rows land: a run stopped between the two writes leaves no summary standing.
    _summary_record(events).unlink(missing_ok=True)
    copy_to_file(con, sql, events, params)
    summarise(con, events)


def summarise(con: duckdb.DuckDBPyConnection, events: Path) -> None:
    """Write the summaries of a partition file (or of the schema file: empty ones) beside it."""
    _summary_record(events).unlink(missing_ok=True)
    run_sql(con, "pseudonymise/summary_macros")
    for summary in SUMMARIES:
        target = summary_file(events, summary)
        copy_to_file(
            con,
            "pseudonymise/partition_summary",
            target,
            {"events": str(events)},
            {"summary": summary},
        )
    pairs = str(summary_file(events, "pairs"))
    last = run_sql(con, "pseudonymise/partition_last_event", {"pairs": pairs}).fetchone()[0]
    record = {"last_event_at": None if last is None else last.isoformat(), "recipe": _recipe()}
    write_text_whole(_summary_record(events), json.dumps(record))


@functools.cache
def _recipe() -> str:
    """The summaries' SQL: a summary written by other SQL stands for nothing."""
    return hashlib.sha256(sql_text("pseudonymise/summary_macros").encode()).hexdigest()


def rebuild_summaries(layout: Layout) -> int:
    """`kalido rebuild-state`: every staged partition's summaries, and the pairs pending an
    erasure's compaction, written again from the partitions, as the nights wrote them; returns
    the partitions summarised."""
    directory = layout.browsing_partitions
    manifest = read_manifest(directory)
    partitions = [partition_file(directory, day) for day in sorted(manifest)]
    partitions = [path for path in partitions if path.exists()]
    with connect(spill_dir=layout.spill) as con:
        for events in [*partitions, directory / SCHEMA_FILE]:
            if events.exists():
                summarise(con, events)
        write_pending_pairs(con, directory, manifest)
    return len(partitions)


def write_pending_pairs(con: duckdb.DuckDBPyConnection, directory: Path, manifest: dict) -> None:
    """PENDING_PAIRS_FILE, the pairs of the pending rows found in every partition, none while
    nothing is pending."""
    pending = directory / PENDING_FILE
    target = directory / PENDING_PAIRS_FILE
    if not pending.exists():
        target.unlink(missing_ok=True)
        return
    files = [partition_file(directory, day) for day in sorted(manifest)]
    params = {
        "files": [str(path) for path in files if path.exists()] + [str(directory / SCHEMA_FILE)],
        "pending": str(pending),
    }
    copy_to_file(con, "pseudonymise/pending_pairs", target, params)


def _last_event_at(events: Path) -> tuple[bool, datetime | None]:
    """(whether the partition's summaries were written whole by today's SQL, its last event)."""
    try:
        record = json.loads(_summary_record(events).read_text(encoding="utf-8"))
        last = record["last_event_at"]
    except (OSError, ValueError, KeyError):
        return False, None
    if record.get("recipe") != _recipe():
        return False, None
    return True, None if last is None else datetime.fromisoformat(last)


def is_summarised(events: Path) -> bool:
    return _last_event_at(events)[0]


def _summary_stands(events: Path, cutoff: datetime) -> bool:
    """Whether the partition's summaries stand for its rows under `cutoff`: they were written,
    and the cutoff leaves out none of its events."""
    written, last = _last_event_at(events)
    return written and (last is None or last < cutoff)


def write_manifest(directory: Path, manifest: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    record = directory / f".{MANIFEST}.{os.getpid()}"
    record.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(record, directory / MANIFEST)


def stored_signatures(settings: Settings, days: list[str]) -> dict[str, dict]:
    """The signatures (see partition_signatures) of some raw partitions as their files hold
    them, rows pending an erasure's compaction included."""
    return partition_signatures(settings, date.max, days)


def compact_staging(settings: Settings, events: pa.Table, before: dict[str, dict]) -> int:
    """After a compaction rewrote the raw browsing files without the pending rows `events`
    (_partition_date, event_id, event_time), rewrite the staged partitions of their days without
    them too and drop the exclusion file; returns the partitions rewritten or removed.

    A partition that mirrored its raw files before the compaction (its manifest entry equals
    `before`, their signatures then) mirrors them after, so it takes their new signature and the
    next pseudonymise reuses it; any other keeps its entry, and the next pseudonymise finds its
    raw partition changed as it would have anyway."""
    layout = settings.layout
    directory = layout.browsing_partitions
    manifest = read_manifest(directory)
    days = sorted({day.isoformat() for day in events.column("_partition_date").to_pylist()})
    after = stored_signatures(settings, days)
    done = 0
    with connect(spill_dir=layout.spill) as con:
        con.register("compacted_events", events)
        for day in days:
            path = partition_file(directory, day)
            if not path.exists():
                continue
            done += 1
            if day not in after:  # raw holds nothing of the day any more
                shutil.rmtree(path.parent)
                manifest.pop(day, None)
                continue
            params = {"file": str(path), "partition_date": date.fromisoformat(day)}
            write_partition(
                con, directory, day, "pseudonymise/browsing_partition_compacted", params
            )
            stored = manifest.get(day)
            if isinstance(stored, dict) and stored.get("rows") == before.get(day, {}).get("rows"):
                manifest[day] = after[day]
    write_manifest(directory, manifest)
    (directory / PENDING_FILE).unlink(missing_ok=True)
    (directory / PENDING_PAIRS_FILE).unlink(missing_ok=True)
    return done


def open_staged_browsing(
    con: duckdb.DuckDBPyConnection, layout: Layout, logical_date: date, cutoff: datetime
) -> None:
    """Make staged browsing up to the logical date readable on `con`, as temporary views less
    the rows pending an erasure's compaction: stg_browsing (the events), stg_browsing_pairs and
    stg_browsing_sessions (their summaries, sql/pseudonymise/browsing_summaries.sql)."""
    directory = layout.browsing_partitions
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuntimeError(
            f"no readable browsing partition manifest in {directory} (run pseudonymise first)"
        ) from exc
    days = sorted(day for day in manifest if day <= logical_date.isoformat())
    pending = directory / PENDING_FILE
    summarised = [day for day in days if _summary_stands(partition_file(directory, day), cutoff)]
    # The summaries are read less the pending rows' pairs; while nothing is pending, less the
    # schema file's pairs summary (the pairs' columns and no rows).
    no_pairs = summary_file(directory / SCHEMA_FILE, "pairs")
    pending_pairs = directory / PENDING_PAIRS_FILE if pending.exists() else no_pairs
    if not pending_pairs.exists():
        # Rows are pending but not their pairs (a home from before they were kept, until its next
        # pseudonymise or rebuild-state): no summary can be read less them, so none is read.
        summarised, pending_pairs = [], no_pairs
    live = [day for day in days if day not in summarised]
    for view, chosen in (("stg_browsing", days), ("stg_browsing_live", live)):
        # The empty file last: DuckDB estimates a file list's rows from its first file, and an
        # estimate of 0 makes the joins build their hash tables on the browsing side.
        files = [partition_file(directory, day) for day in chosen] + [directory / SCHEMA_FILE]
        params = {"files": [str(f) for f in files], "cutoff": cutoff}
        if pending.exists():
            params["pending"] = str(pending)
            run_sql(con, "pseudonymise/browsing_view_pending", params, {"view": view})
        else:
            run_sql(con, "pseudonymise/browsing_view", params, {"view": view})
    run_sql(con, "pseudonymise/summary_macros")
    events = [partition_file(directory, day) for day in summarised] + [directory / SCHEMA_FILE]
    params = {
        f"{summary}_files": [str(summary_file(path, summary)) for path in events]
        for summary in SUMMARIES
    }
    run_sql(con, "pseudonymise/browsing_summaries", {**params, "pending_pairs": str(pending_pairs)})
