"""Pseudonymise: raw (restricted) -> stg_ tables in the pseudonymised work database."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from kalido import raw_browsing
from kalido.config import ConfigError, Layout, Settings
from kalido.db import (
    attach,
    connect,
    copy_to_file,
    in_fresh_process,
    rebuild_in_fresh_process,
    run_sql,
    sql_text,
)
from kalido.policy import Policy
from kalido.pseudonyms import pseudonym
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"  # landing date -> the digests its Parquet file was written from
SCHEMA_FILE = "schema.parquet"  # no rows: stg_browsing's columns when there is no partition
# (event_id, event_time) of the raw rows pending an erasure's compaction: stg_browsing leaves them
# out. Staged partitions mirror the raw files (pending rows included), so that an erasure rewrites
# no partition the night it arrives; the compaction rewrites both (compact_staging).
PENDING_FILE = "pending_removal.parquet"


def check_key(settings: Settings) -> None:
    """Refuse a key that differs from the one already used under the same key version."""
    if not settings.layout.raw_db.exists():
        return
    with connect(settings.layout.raw_db, read_only=True) as con:
        has_table = con.execute(
            "select 1 from duckdb_tables() where table_name = 'pseudonym_keys'"
        ).fetchone()
        if not has_table:
            return
        row = con.execute(
            "select fingerprint from pseudonym_keys where key_version = $v",
            {"v": settings.key_version},
        ).fetchone()
    if row and row[0] != settings.key_fingerprint:
        raise ConfigError(
            "KALIDO_PSEUDONYM_KEY differs from the key used for this key version; "
            "bump KALIDO_PSEUDONYM_KEY_VERSION to rotate"
        )


def assign_pseudonyms(settings: Settings) -> pa.Table:
    """Compute pseudonyms for identifiers first seen in this run (hashing only the new ones);
    returns those identifiers (domain, raw_id). Only files not yet read under the current key
    are read (ledger column identifiers_key_version), so the cost follows the new files, not
    the history."""
    key_version = {"key_version": settings.key_version}
    with connect(settings.layout.raw_db) as con:
        run_sql(con, "ingest/create_raw_tables")
        run_sql(con, "pseudonymise/create_identity_tables")
        con.execute(
            "insert or ignore into pseudonym_keys values ($v, $f)",
            {"v": settings.key_version, "f": settings.key_fingerprint},
        )
        unread_browsing = run_sql(con, "pseudonymise/unread_files", key_version).fetchall()
        raw_browsing.open_view(con, settings.layout, only=unread_browsing)
        new = run_sql(con, "pseudonymise/new_identifiers", key_version).to_arrow_table()
        domains = new.column("domain").to_pylist()
        raw_ids = new.column("raw_id").to_pylist()
        pids = [pseudonym(settings.key, d, r) for d, r in zip(domains, raw_ids, strict=True)]
        batch = pa.table(  # noqa: F841 - read by the insert below through DuckDB's replacement scan
            {
                "domain": domains,
                "raw_id": raw_ids,
                "pid": pids,
                "key_version": pa.array([settings.key_version] * len(pids), pa.int32()),
            }
        )
        con.begin()
        con.execute("insert into id_pseudonyms select * from batch")
        run_sql(con, "pseudonymise/mark_files_read", key_version)
        con.commit()
    return new


def _partition_signatures(con, settings: Settings, logical_date: date) -> dict[str, dict]:
    """Landing date -> digests of its raw browsing rows (`rows`: every row; `files`: the files
    only) with the key and the staging SQL, and its row count. Unchanged `rows`: the Parquet file
    is reused; same `files` and fewer rows: it is filtered; otherwise it is pseudonymised again."""
    recipe = hashlib.sha256(sql_text("pseudonymise/build_staging").encode()).hexdigest()
    base = f"{recipe}|{settings.key_version}|{settings.key_fingerprint}"
    rows = run_sql(con, "pseudonymise/browsing_signatures", {"logical_date": logical_date})
    return {
        day.isoformat(): {
            "rows": hashlib.sha256(f"{base}|{count}|{row_hash}".encode()).hexdigest(),
            "files": hashlib.sha256(f"{base}|{file_hash}".encode()).hexdigest(),
            "row_count": count,
        }
        for day, count, row_hash, file_hash in rows.fetchall()
    }


def _plan(signatures: dict[str, dict], stored: dict, directory: Path) -> tuple[list, list]:
    """(partitions to pseudonymise again, partitions that only lost rows)."""
    changed, shrunk = [], []
    for day, now in sorted(signatures.items()):
        before = stored.get(day)
        if not isinstance(before, dict) or not _partition_file(directory, day).exists():
            changed.append(day)
        elif before.get("rows") == now["rows"]:
            continue
        elif before.get("files") == now["files"] and now["row_count"] < before.get("row_count", 0):
            shrunk.append(day)
        else:
            changed.append(day)
    return changed, shrunk


def _read_manifest(directory: Path) -> dict:
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no usable record: every partition is pseudonymised again


def _partition_file(directory: Path, day: str) -> Path:
    return directory / f"dt={day}" / "events.parquet"


def store_browsing(
    layout: Layout,
    signatures: dict[str, dict],
    changed: list[str],
    shrunk: list[str],
    logical_date: date,
    cutoff,
) -> int:
    """Write the changed partitions, filter the shrunk ones, drop the ones raw no longer has;
    returns stg_browsing's row count.

    Runs in a fresh process (never read the restricted zone) that reads the work file's values,
    so the Parquet files hold values only; the work file is re-copied after it.
    """
    directory = layout.browsing_partitions
    manifest = _read_manifest(directory)
    with connect(layout.work_db) as con:
        for day in changed:
            params = {"partition_date": date.fromisoformat(day)}
            target = _partition_file(directory, day)
            copy_to_file(con, "pseudonymise/browsing_partition", target, params)
            manifest[day] = signatures[day]
        for day in shrunk:
            target = _partition_file(directory, day)
            params = {"partition_date": date.fromisoformat(day), "file": str(target)}
            copy_to_file(con, "pseudonymise/browsing_partition_filtered", target, params)
            manifest[day] = signatures[day]
        copy_to_file(con, "pseudonymise/browsing_schema", directory / SCHEMA_FILE, {})
        con.execute("drop table if exists stg_browsing_surviving")
        con.execute("drop table stg_browsing_changed")
        for day in [d for d in manifest if d <= logical_date.isoformat() and d not in signatures]:
            shutil.rmtree(_partition_file(directory, day).parent, ignore_errors=True)
            del manifest[day]
        _write_manifest(directory, manifest)
        open_staged_browsing(con, layout, logical_date, cutoff)
        return con.execute("select count(*) from stg_browsing").fetchone()[0]


def _write_manifest(directory: Path, manifest: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    record = directory / f".{MANIFEST}.{os.getpid()}"
    record.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(record, directory / MANIFEST)


def stored_signatures(settings: Settings, days: list[str]) -> dict[str, dict]:
    """The signatures (see _partition_signatures) of some raw partitions as their files hold
    them, rows pending an erasure's compaction included."""
    with connect(spill_dir=settings.layout.spill) as con:
        raw_browsing.open_view(con, settings.layout, stored=True, partitions=days)
        return _partition_signatures(con, settings, date.max)


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
    manifest = _read_manifest(directory)
    days = sorted({day.isoformat() for day in events.column("_partition_date").to_pylist()})
    after = stored_signatures(settings, days)
    done = 0
    with connect(spill_dir=layout.spill) as con:
        con.register("compacted_events", events)
        for day in days:
            path = _partition_file(directory, day)
            if not path.exists():
                continue
            done += 1
            if day not in after:  # raw holds nothing of the day any more
                shutil.rmtree(path.parent)
                manifest.pop(day, None)
                continue
            params = {"file": str(path), "partition_date": date.fromisoformat(day)}
            copy_to_file(con, "pseudonymise/browsing_partition_compacted", path, params)
            stored = manifest.get(day)
            if isinstance(stored, dict) and stored.get("rows") == before.get(day, {}).get("rows"):
                manifest[day] = after[day]
    _write_manifest(directory, manifest)
    (directory / PENDING_FILE).unlink(missing_ok=True)
    return done


def _write_pending(con: duckdb.DuckDBPyConnection, layout: Layout) -> None:
    """The exclusion file of stg_browsing (PENDING_FILE), none while nothing is pending."""
    path = layout.browsing_partitions / PENDING_FILE
    pending = raw_browsing.pending_table(con)
    if pending is None:
        path.unlink(missing_ok=True)
        return
    copy_to_file(con, "pseudonymise/browsing_pending", path, {}, {"pending": pending})


def open_staged_browsing(
    con: duckdb.DuckDBPyConnection, layout: Layout, logical_date: date, cutoff
) -> None:
    """Make stg_browsing (pseudonymised browsing up to the logical date) readable on `con`:
    a temporary view over the partitions the last pseudonymise of that date recorded, less the
    rows pending an erasure's compaction."""
    directory = layout.browsing_partitions
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuntimeError(
            f"no readable browsing partition manifest in {directory} (run pseudonymise first)"
        ) from exc
    days = sorted(day for day in manifest if day <= logical_date.isoformat())
    # The empty file last: DuckDB estimates a file list's rows from its first file, and an
    # estimate of 0 makes the joins build their hash tables on the browsing side.
    files = [_partition_file(directory, day) for day in days] + [directory / SCHEMA_FILE]
    params = {"files": [str(f) for f in files], "cutoff": cutoff}
    pending = directory / PENDING_FILE
    if pending.exists():
        run_sql(con, "pseudonymise/browsing_view_pending", {**params, "pending": str(pending)})
    else:
        run_sql(con, "pseudonymise/browsing_view", params)


def pseudonymise(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Build the pseudonymised staging tables as of the logical date: the small tables whole,
    browsing only for the landing partitions that changed since the last run."""
    new_ids = assign_pseudonyms(settings).num_rows
    layout = settings.layout
    work_db = layout.work_db
    work_db.unlink(missing_ok=True)  # the work database is derived: rebuilt, never patched
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    with connect(work_db, timezone=policy.business_timezone) as con:
        attach(con, layout.raw_db, "raw")
        # The files as stored: an erasure pending its compaction changes no signature.
        raw_browsing.open_view(con, layout, stored=True)
        signatures = _partition_signatures(con, settings, logical_date)
        changed, shrunk = _plan(
            signatures, _read_manifest(layout.browsing_partitions), layout.browsing_partitions
        )
        run_sql(
            con,
            "pseudonymise/browsing_surviving",
            {"shrunk_partitions": [date.fromisoformat(day) for day in shrunk]},
        )
        run_sql(
            con,
            "pseudonymise/build_staging",
            {
                "key_version": settings.key_version,
                "logical_date": logical_date,
                "cutoff": cutoff,
                "age_limit": policy.age_limit,
                "changed_files": [str(f) for f in raw_browsing.files(layout, changed)],
            },
        )
        _write_pending(con, layout)
        counts = {
            table: con.execute(f"select count(*) from {table}").fetchone()[0]
            for table in (
                "stg_customers",
                "stg_consents",
                "stg_orders",
                "stg_requests",
                "stg_products",
            )
        }
    # This process read the restricted zone, and DuckDB may write stale buffer bytes into the
    # unused tails of its blocks: nothing it wrote leaves as is. A fresh process writes the
    # browsing partitions (Parquet has no block tails: values only) and drops the browsing tables,
    # then another re-copies what is left of the work file, values only.
    counts["stg_browsing"] = in_fresh_process(
        store_browsing, layout, signatures, changed, shrunk, logical_date, cutoff
    )
    rebuild_in_fresh_process(work_db)
    counts["browsing_partitions_rebuilt"] = len(changed)
    counts["browsing_partitions_filtered"] = len(shrunk)
    counts["browsing_partitions_reused"] = len(signatures) - len(changed) - len(shrunk)
    log.info("pseudonymised: %s new identifiers, %s", new_ids, counts)
    return {"new_pseudonyms": new_ids, **counts}
