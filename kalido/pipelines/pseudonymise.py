"""Pseudonymise: raw (restricted) -> stg_ tables in the pseudonymised work database."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from pathlib import Path

import duckdb

from kalido.config import Layout, Settings
from kalido.db import (
    attach,
    connect,
    copy_to_file,
    in_fresh_process,
    rebuild_in_fresh_process,
    run_sql,
)
from kalido.policy import Policy
from kalido.stores import identities, raw_browsing, staged
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)


def _plan(signatures: dict[str, dict], stored: dict, directory: Path) -> tuple[list, list]:
    """(partitions to pseudonymise again, partitions that only lost rows)."""
    changed, shrunk = [], []
    for day, now in sorted(signatures.items()):
        before = stored.get(day)
        if not isinstance(before, dict) or not staged.partition_file(directory, day).exists():
            changed.append(day)
        elif before.get("rows") == now["rows"]:
            continue
        elif before.get("files") == now["files"] and now["row_count"] < before.get("row_count", 0):
            shrunk.append(day)
        else:
            changed.append(day)
    return changed, shrunk


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
    manifest = staged.read_manifest(directory)
    with connect(layout.work_db) as con:
        for day in changed:
            params = {"partition_date": date.fromisoformat(day)}
            staged.write_partition(con, directory, day, "pseudonymise/browsing_partition", params)
            manifest[day] = signatures[day]
        for day in shrunk:
            params = {
                "partition_date": date.fromisoformat(day),
                "file": str(staged.partition_file(directory, day)),
            }
            sql = "pseudonymise/browsing_partition_filtered"
            staged.write_partition(con, directory, day, sql, params)
            manifest[day] = signatures[day]
        # Partitions written before summaries existed get theirs once.
        for day in sorted(manifest):
            path = staged.partition_file(directory, day)
            if path.exists() and not staged.is_summarised(path):
                staged.summarise(con, path)
        schema = directory / staged.SCHEMA_FILE
        copy_to_file(con, "pseudonymise/browsing_schema", schema, {})
        staged.summarise(con, schema)
        staged.write_pending_pairs(con, directory, manifest)
        con.execute("drop table if exists stg_browsing_surviving")
        con.execute("drop table stg_browsing_changed")
        for day in [d for d in manifest if d <= logical_date.isoformat() and d not in signatures]:
            shutil.rmtree(staged.partition_file(directory, day).parent, ignore_errors=True)
            del manifest[day]
        staged.write_manifest(directory, manifest)
        staged.open_staged_browsing(con, layout, logical_date, cutoff)
        return con.execute("select count(*) from stg_browsing").fetchone()[0]


def _write_pending(con: duckdb.DuckDBPyConnection, layout: Layout) -> None:
    """The exclusion file of stg_browsing (staged.PENDING_FILE), none while nothing is pending."""
    path = layout.browsing_partitions / staged.PENDING_FILE
    pending = raw_browsing.pending_table(con)
    if pending is None:
        path.unlink(missing_ok=True)
        return
    copy_to_file(con, "pseudonymise/browsing_pending", path, {}, {"pending": pending})


def pseudonymise(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Build the pseudonymised staging tables as of the logical date: the small tables whole,
    browsing only for the landing partitions that changed since the last run."""
    new_ids = identities.assign_pseudonyms(settings).num_rows
    layout = settings.layout
    work_db = layout.work_db
    work_db.unlink(missing_ok=True)  # the work database is derived: rebuilt, never patched
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    with connect(work_db, timezone=policy.business_timezone) as con:
        attach(con, layout.raw_db, "raw")
        # The files as stored: an erasure pending its compaction changes no signature.
        raw_browsing.open_view(con, layout, stored=True)
        signatures = staged.partition_signatures(settings, logical_date)
        changed, shrunk = _plan(
            signatures, staged.read_manifest(layout.browsing_partitions), layout.browsing_partitions
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
