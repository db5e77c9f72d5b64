"""Publish: the analyst warehouse (atomic file swap) and the email feed (atomic directory)."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import re
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _discard(draft: Path) -> None:
    """A draft and what DuckDB wrote beside it: its .wal, its .spill, a rebuild's copy."""
    siblings = [
        *draft.parent.glob(glob.escape(draft.name) + ".*"),
        *draft.parent.glob("." + glob.escape(draft.name) + ".*"),
    ]
    for path in [draft, *siblings]:
        _remove(path)


# Hidden drafts of publish, named after the writing process: .analytics.duckdb.<pid>.tmp (and
# its .wal, .spill, ..analytics.duckdb.<pid>.tmp.<pid>.rebuild), .dt=<date>.<pid>.tmp,
# .retired-dt=<date>.<pid>.
_LEFTOVER = re.compile(
    r"^\.+(?:analytics\.duckdb|dt=\d{4}-\d{2}-\d{2}|retired-dt=\d{4}-\d{2}-\d{2})\.(\d+)(?:\.|$)"
)


def remove_leftovers(layout: Layout) -> int:
    """Remove the drafts of publishes whose process is gone (killed, or out of disk before it
    could clean up); they would otherwise stay forever. Returns how many."""
    removed = 0
    for directory in (layout.warehouse.parent, layout.email_feed):
        if not directory.is_dir():
            continue
        for path in directory.glob(".*"):
            match = _LEFTOVER.match(path.name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                _remove(path)
                removed += 1
    if removed:
        log.info("removed %d drafts left by earlier publishes", removed)
    return removed


def _build_warehouse(settings: Settings, current_run: dict, draft: Path) -> None:
    layout = settings.layout
    draft.parent.mkdir(parents=True, exist_ok=True)
    draft.unlink(missing_ok=True)
    with connect(draft, timezone="UTC") as con:
        attach_work(con, layout)
        attach(con, layout.raw_db, "raw")
        run_sql(con, "publish/build_warehouse")
        _insert_runs(con, layout, current_run)
        con.execute("detach work")
        con.execute("detach raw")
        con.execute("checkpoint")
    rebuild_in_fresh_process(draft)  # this process read restricted tables (see pseudonymise)


def _succeeded_run(settings: Settings, run_id: str, logical_date: date) -> dict:
    """This run's record as pipeline_runs shows it once published: successful."""
    record = runs.read_run(settings.layout, run_id)
    record.setdefault("run_id", run_id)
    record.setdefault("logical_date", logical_date.isoformat())
    record.update(status="success", finished_at=runs.now_utc(), key_version=settings.key_version)
    return record


def _feed_run_id(feed_dir: Path) -> str | None:
    """The run that wrote a published feed, from its manifest."""
    try:
        return json.loads((feed_dir / MANIFEST).read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


def republish_run_table(settings: Settings, run_id: str, logical_date: date) -> None:
    """A run that had nothing to do (see unchanged.py) still appears in pipeline_runs: the
    published warehouse is copied with the table refreshed, and swapped in like a new one. The
    feed in place stays: the run record names the run that wrote it (feed_run_id)."""
    layout = settings.layout
    final = layout.warehouse
    remove_leftovers(layout)
    tmp = _draft(final)
    try:
        shutil.copyfile(final, tmp)
        record = _succeeded_run(settings, run_id, logical_date)
        with connect(tmp, timezone="UTC") as con:
            con.execute("delete from pipeline_runs")
            _insert_runs(con, layout, record)
            con.execute("checkpoint")
        replace_atomically(tmp, final)
    except BaseException:
        _discard(tmp)
        raise
    feed_run_id = _feed_run_id(layout.email_feed / f"dt={logical_date.isoformat()}")
    runs.record_published(layout, run_id, "warehouse", feed_run_id=feed_run_id)


def _stage_feed(settings: Settings, logical_date: date, run_id: str, staging: Path) -> dict:
    """Write the email feed into the hidden directory `staging`; its counts."""
    layout = settings.layout
    staging.parent.mkdir(parents=True, exist_ok=True)
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
        # The run whose warehouse matches this feed: pipeline_runs lists it once published.
        "run_id": run_id,
        "rows": rows,
        "recipients": recipients,
        "columns": ["customer_id", "rank", "product_id", "product_title", "product_url", "score"],
        "sha256": hashlib.sha256(csv_path.read_bytes()).hexdigest(),
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return {"feed_rows": rows, "feed_recipients": recipients}


def _swap_feed(staging: Path, final: Path) -> None:
    """A feed directory is complete or absent: the old one moves aside before the new one lands
    (and comes back if the new one cannot)."""
    if not final.exists():
        os.replace(staging, final)
        return
    retired = final.with_name(f".retired-{final.name}.{os.getpid()}")
    os.replace(final, retired)
    try:
        os.replace(staging, final)
    except BaseException:
        os.replace(retired, final)
        raise
    _remove(retired)


def publish(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Stage the email feed and build the new warehouse under hidden names, then swap both in,
    feed first: a warehouse says its run succeeded only once that run's feed is out. The feed's
    manifest and pipeline_runs both carry the run id, and the run record lists what was
    published, in order (`published`, `feed_run_id`). A failure (a full disk) leaves neither
    draft behind, nor a new feed beside the old warehouse."""
    layout = settings.layout
    feed_dir = layout.email_feed / f"dt={logical_date.isoformat()}"
    staging = feed_dir.with_name(f".{feed_dir.name}.{os.getpid()}.tmp")
    draft = _draft(layout.warehouse)
    remove_leftovers(layout)
    try:
        counts = {**_stage_feed(settings, logical_date, run_id, staging), "feed_run_id": run_id}
        record = _succeeded_run(settings, run_id, logical_date)
        record.setdefault("stages", {})["publish"] = counts
        _build_warehouse(settings, record, draft)
        _swap_feed(staging, feed_dir)
        refresh_latest(layout.email_feed)
        runs.record_published(layout, run_id, "email_feed", feed_run_id=run_id)
        replace_atomically(draft, layout.warehouse)
        runs.record_published(layout, run_id, "warehouse")
    except BaseException:
        _discard(draft)
        _discard(staging)
        raise
    log.info("published feed %s and warehouse %s", feed_dir, layout.warehouse)
    mirrored = objectstore.mirror_exports(settings) if settings.export_url else {}
    return {**counts, "feed_dir": str(feed_dir), "warehouse": str(layout.warehouse), **mirrored}
