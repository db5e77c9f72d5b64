"""Publish: the analyst warehouse (atomic file swap) and the email feed (atomic directory)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa

from kalido.config import Layout, Settings
from kalido.db import attach, connect, rebuild_in_fresh_process, replace_atomically, run_sql
from kalido.email_feed import MANIFEST, refresh_latest
from kalido.pipelines import objectstore, runs
from kalido.policy import Policy
from kalido.shards import attach_work

log = logging.getLogger(__name__)

RUN_COLUMNS = (
    "run_id",
    "logical_date",
    "started_at",
    "finished_at",
    "status",
    "key_version",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "duplicates_dropped",
    "eligible_users",
    "recommendations",
    "feed_recipients",
    "stage_counts",
    "error",
    "warnings",
)


def _run_row(record: dict) -> dict:
    stages = record.get("stages", {})
    ingest = stages.get("ingest", {})
    publish = stages.get("publish", {})
    return {
        "run_id": record["run_id"],
        "logical_date": record["logical_date"],
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "status": record.get("status", "unknown"),
        "key_version": record.get("key_version"),
        **{name: ingest.get(name) for name in RUN_COLUMNS[6:10]},
        "eligible_users": stages.get("gate", {}).get("may_profile"),
        "recommendations": stages.get("recommend", {}).get("recommendations"),
        "feed_recipients": publish.get("feed_recipients"),
        "stage_counts": json.dumps(stages, sort_keys=True, default=str),
        "error": record.get("error"),
        "warnings": json.dumps(stages.get("validate", {}).get("warnings", [])),
    }


def _insert_runs(con, layout: Layout, current_run: dict) -> None:
    previous = [r for r in runs.all_runs(layout) if r["run_id"] != current_run["run_id"]]
    run_rows = [_run_row(r) for r in [*previous, current_run]]
    run_table = pa.Table.from_pylist(run_rows)  # noqa: F841 - read by DuckDB below
    con.execute(
        "insert into pipeline_runs by name select * replace ("
        "cast(logical_date as date) as logical_date, "
        "cast(started_at as timestamptz) as started_at, "
        "cast(finished_at as timestamptz) as finished_at) from run_table"
    )


def _draft(final: Path) -> Path:
    """The hidden file a new warehouse is written to before it is swapped in whole."""
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


def _build_warehouse(settings: Settings, policy: Policy, current_run: dict) -> Path:
    layout = settings.layout
    final = layout.warehouse
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _draft(final)
    tmp.unlink(missing_ok=True)
    with connect(tmp, timezone="UTC") as con:
        attach_work(con, layout)
        attach(con, layout.raw_db, "raw")
        run_sql(con, "publish/build_warehouse")
        _insert_runs(con, layout, current_run)
        con.execute("detach work")
        con.execute("detach raw")
        con.execute("checkpoint")
    rebuild_in_fresh_process(tmp)  # this process read restricted tables (see pseudonymise)
    replace_atomically(tmp, final)
    return final


def _succeeded_run(settings: Settings, run_id: str, logical_date: date) -> dict:
    """This run's record as pipeline_runs shows it once published: successful."""
    record = runs.read_run(settings.layout, run_id)
    record.setdefault("run_id", run_id)
    record.setdefault("logical_date", logical_date.isoformat())
    record.update(status="success", finished_at=runs.now_utc(), key_version=settings.key_version)
    return record


def republish_run_table(settings: Settings, run_id: str, logical_date: date) -> None:
    """A run that had nothing to do (see unchanged.py) still appears in pipeline_runs: the
    published warehouse is copied with the table refreshed, and swapped in like a new one."""
    final = settings.layout.warehouse
    tmp = _draft(final)
    shutil.copyfile(final, tmp)
    record = _succeeded_run(settings, run_id, logical_date)
    with connect(tmp, timezone="UTC") as con:
        con.execute("delete from pipeline_runs")
        _insert_runs(con, settings.layout, record)
        con.execute("checkpoint")
    replace_atomically(tmp, final)


def _write_feed(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    layout = settings.layout
    feed_root = layout.email_feed
    feed_root.mkdir(parents=True, exist_ok=True)
    final = feed_root / f"dt={logical_date.isoformat()}"
    staging = feed_root / f".dt={logical_date.isoformat()}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    csv_path = staging / "recommendations.csv"
    with connect(spill_dir=layout.spill) as con:
        attach_work(con, layout)
        attach(con, layout.raw_db, "raw")
        run_sql(con, "publish/email_feed", {"key_version": settings.key_version})
        con.execute(
            "copy (select * from email_feed order by customer_id, rank)"
            " to $p (format csv, header true)",
            {"p": str(csv_path)},
        )
        rows, recipients = con.execute(
            "select count(*), count(distinct customer_id) from email_feed"
        ).fetchone()
    manifest = {
        "logical_date": logical_date.isoformat(),
        "generated_at": runs.now_utc(),
        "run_id": run_id,
        "rows": rows,
        "recipients": recipients,
        "columns": ["customer_id", "rank", "product_id", "product_title", "product_url", "score"],
        "sha256": hashlib.sha256(csv_path.read_bytes()).hexdigest(),
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    # A feed directory is complete or absent: the old one moves aside before the new one lands.
    if final.exists():
        retired = feed_root / f".retired-{final.name}.{os.getpid()}"
        os.replace(final, retired)
        os.replace(staging, final)
        shutil.rmtree(retired)
    else:
        os.replace(staging, final)
    refresh_latest(feed_root)
    return {"feed_rows": rows, "feed_recipients": recipients, "feed_dir": str(final)}


def publish(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Write the email feed, then swap in the new warehouse with this run marked successful."""
    feed = _write_feed(settings, policy, logical_date, run_id)
    record = _succeeded_run(settings, run_id, logical_date)
    record.setdefault("stages", {})["publish"] = {k: v for k, v in feed.items() if k != "feed_dir"}
    warehouse = _build_warehouse(settings, policy, record)
    log.info("published warehouse %s and feed %s", warehouse, feed["feed_dir"])
    mirrored = objectstore.mirror_exports(settings) if settings.export_url else {}
    return {**feed, "warehouse": str(warehouse), **mirrored}
