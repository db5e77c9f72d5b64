"""Publish: the analyst warehouse (atomic file swap) and the email feed (atomic directory)."""

from __future__ import annotations

import contextlib
import functools
import glob
import json
import logging
import os
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from kalido import warehouse
from kalido.config import Layout, Settings
from kalido.db import attach, connect, rebuild_in_fresh_process, run_sql
from kalido.policy import Policy
from kalido.stores import ad_export, objectstore, runs
from kalido.stores.email_feed import (
    FEED_COLUMNS,
    FEED_FILE,
    MANIFEST,
    RECIPIENTS_FILE,
    REMOVALS_FILE,
    manifest_for,
    next_revision,
    previous_feed,
    refresh_latest,
    swap_dir,
    write_manifest,
)
from kalido.stores.shards import attach_work
from kalido.suppression import recipient_pseudonym, suppression_secret

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
    "may_profile_users",
    "may_email_users",
    "recommendations",
    "feed_recipients",
    "warehouse_published",
    "stage_counts",
    "error",
    "warnings",
)


QUALITY_FIGURES = (
    "hr_at_20",
    "mrr_at_20",
    "baseline_hr_at_20",
    "baseline_mrr_at_20",
    "coverage",
    "baseline_coverage",
    "hr_gap",
    "hr_gap_ci95",
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
        # eligible_users: the contract's name, kept; may_profile_users is the same count.
        "eligible_users": stages.get("gate", {}).get("may_profile"),
        "may_profile_users": stages.get("gate", {}).get("may_profile"),
        "may_email_users": stages.get("gate", {}).get("may_email"),
        "recommendations": stages.get("recommend", {}).get("recommendations"),
        "feed_recipients": publish.get("feed_recipients"),
        "warehouse_published": _warehouse_published(record),
        "stage_counts": json.dumps(stages, sort_keys=True, default=str),
        "error": record.get("error"),
        "warnings": json.dumps(stages.get("validate", {}).get("warnings", [])),
    }


def _warehouse_published(record: dict) -> bool | None:
    """True: the run swapped in tables it built; False: a backfill kept a warehouse built for a
    newer date; None: the run published no tables of its own (skipped rerun, purge, failure)."""
    publish = record.get("stages", {}).get("publish", {})
    if "warehouse_published" in publish:
        return publish["warehouse_published"]
    published = [p.get("output") for p in record.get("published", [])]
    return True if "skipped" not in publish and "warehouse" in published else None


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
    _insert_quality(con, [*previous, current_run])


def _insert_quality(con, records: list[dict]) -> None:
    """recommendation_quality: per logical date, the self-check of its latest successful run
    (the similarity stage's quality_ figures, see features/holdout.py)."""
    latest: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: (r.get("started_at") or "", r["run_id"])):
        figures = record.get("stages", {}).get("similarity", {})
        if record.get("status") == "success" and figures.get("quality_users") is not None:
            latest[record["logical_date"]] = {"run_id": record["run_id"], **figures}
    rows = [
        {
            "logical_date": day,
            "run_id": figures["run_id"],
            "users": figures["quality_users"],
            **{name: figures.get(f"quality_{name}") for name in QUALITY_FIGURES},
            "weights": figures.get("quality_weights"),
        }
        for day, figures in sorted(latest.items())
    ]
    if not rows:
        return
    quality_table = pa.Table.from_pylist(rows)  # noqa: F841 - read by DuckDB below
    con.execute(
        "insert into recommendation_quality by name select * replace ("
        "cast(logical_date as date) as logical_date, cast(weights as json) as weights) "
        "from quality_table"
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
    for directory in (layout.warehouse.parent, layout.email_feed, layout.ad_export):
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


def _build_warehouse(
    settings: Settings, policy: Policy, current_run: dict, draft: Path, logical_date: date
) -> None:
    layout = settings.layout
    draft.parent.mkdir(parents=True, exist_ok=True)
    draft.unlink(missing_ok=True)
    with connect(draft, timezone="UTC") as con:
        attach_work(con, layout)
        attach(con, layout.raw_db, "raw")
        warehouse.build_tables(
            con,
            {
                "timezone": policy.business_timezone,
                "logical_date": logical_date,
                "run_id": current_run["run_id"],
                "published_at": current_run["finished_at"],
            },
        )
        _insert_runs(con, layout, current_run)
        con.execute("detach work")
        con.execute("detach raw")
        warehouse.timestamps_to_utc(con)
        warehouse.write_comments(con)  # last: every table and column exists by now
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
        _refresh_run_table(settings, _succeeded_run(settings, run_id, logical_date), tmp)
        warehouse.swap_in(tmp, final)
    except BaseException:
        _discard(tmp)
        raise
    feed_run_id = _feed_run_id(layout.email_feed / f"dt={logical_date.isoformat()}")
    runs.record_published(layout, run_id, "warehouse", feed_run_id=feed_run_id)


def _refresh_run_table(settings: Settings, record: dict, tmp: Path) -> None:
    """Copy the published warehouse to `tmp` with pipeline_runs (and what _insert_runs derives
    from the run records) rewritten to include `record`; its other tables stay as they are."""
    layout = settings.layout
    shutil.copyfile(layout.warehouse, tmp)  # the copy is writable: copyfile copies no mode
    with connect(tmp, timezone="UTC") as con:
        con.execute("delete from pipeline_runs")
        con.execute("delete from recommendation_quality")
        _insert_runs(con, layout, record)
        con.execute("checkpoint")


def _newer_warehouse(layout: Layout, logical_date: date) -> date | None:
    """The date the published warehouse was built for, when it is after this run's."""
    built_for = warehouse.published_date(layout.warehouse)
    return built_for if built_for is not None and built_for > logical_date else None


def _previous_rows(path: Path | None, columns: list[str]) -> pa.Table:
    """Some columns of an earlier feed's CSV, as text (empty when there is no such file)."""
    if path is None or not path.is_file():
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    return pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=columns,
            column_types=dict.fromkeys(columns, pa.string()),
            strings_can_be_null=False,
        ),
    )


def _stage_feed(settings: Settings, logical_date: date, run_id: str, staging: Path) -> dict:
    """Write the email feed into the hidden directory `staging`; its counts."""
    layout = settings.layout
    staging.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    final = layout.email_feed / f"dt={logical_date.isoformat()}"
    # Removals are decided against the newest complete feed before this date (a backfill's
    # previous feed is the one before it, not tonight's newest).
    previous = previous_feed(layout.email_feed, logical_date.isoformat())
    secret = suppression_secret(layout)
    with connect(spill_dir=layout.spill) as con:
        attach_work(con, layout)
        attach(con, layout.raw_db, "raw")
        con.create_function(
            "kalido_recipient_pid",
            functools.partial(recipient_pseudonym, secret),
            [duckdb.sqltype("VARCHAR")],
            duckdb.sqltype("VARCHAR"),
            side_effects=False,
        )
        run_sql(con, "publish/email_feed", {"key_version": settings.key_version})
        run_sql(con, "publish/feed_recipients")
        con.register(
            "previous_recipients",
            _previous_rows(previous and previous / FEED_FILE, ["customer_id"]),
        )
        con.register(
            "previous_removals",
            _previous_rows(
                previous and previous / REMOVALS_FILE,
                ["recipient_pid", "reason", "last_feed_date"],
            ),
        )
        run_sql(
            con,
            "publish/email_removals",
            {
                "key_version": settings.key_version,
                "previous_date": date.fromisoformat(previous.name[3:]) if previous else None,
            },
        )
        run_sql(
            con,
            "publish/write_feed",
            {
                "feed_csv": str(staging / FEED_FILE),
                "recipients_csv": str(staging / RECIPIENTS_FILE),
                "removals_csv": str(staging / REMOVALS_FILE),
            },
        )
        rows, recipients = con.execute(
            "select count(*), count(distinct customer_id) from email_feed"
        ).fetchone()
        removals = con.execute("select count(*) from email_removals").fetchone()[0]
    fields = {
        "logical_date": logical_date.isoformat(),
        "generated_at": runs.now_utc(),
        # The run whose warehouse matches this feed: pipeline_runs lists it once published.
        "run_id": run_id,
        "rows": rows,
        "recipients": recipients,
    }
    # recipients.csv holds each recipient once: its rows are the feed's recipients.
    manifest = manifest_for(staging, fields, 0, removals, list(FEED_COLUMNS), recipients)
    # A rerun that writes other bytes for the date is a new revision of its feed.
    manifest["revision"] = next_revision(final, manifest)
    write_manifest(staging, manifest)
    return {"feed_rows": rows, "feed_recipients": recipients, "feed_removals": removals}


# A directory swapped in whole (email_feed.swap_dir, which purge's rewrites use too).
_swap_feed = swap_dir


def publish(
    settings: Settings,
    policy: Policy,
    logical_date: date,
    run_id: str,
    replace_newer: bool = False,
) -> dict:
    """Stage the email feed and build the new warehouse under hidden names, then swap both in,
    feed first: a warehouse says its run succeeded only once that run's feed is out. The feed's
    manifest and pipeline_runs both carry the run id, and the run record lists what was
    published, in order (`published`, `feed_run_id`). A failure (a full disk) leaves neither
    draft behind, nor a new feed beside the old warehouse.

    A backfill (a date older than the published warehouse's, see published_as_of) publishes
    its feed but keeps the newer warehouse, adding only its run to pipeline_runs, unless
    `replace_newer` (kalido run --replace-newer)."""
    layout = settings.layout
    feed_dir = layout.email_feed / f"dt={logical_date.isoformat()}"
    staging = feed_dir.with_name(f".{feed_dir.name}.{os.getpid()}.tmp")
    # The ad server's export (issue 27) goes out like the feed: whole or not at all, before the
    # warehouse, then the exports it supersedes are retired.
    ad_dir = ad_export.export_dir(settings, logical_date)
    ad_staging = ad_dir.with_name(f".{ad_dir.name}.{os.getpid()}.tmp")
    draft = _draft(layout.warehouse)
    remove_leftovers(layout)
    newer = _newer_warehouse(layout, logical_date)
    keep = newer is not None and not replace_newer
    try:
        counts = {
            **_stage_feed(settings, logical_date, run_id, staging),
            **ad_export.stage_export(settings, logical_date, run_id, ad_staging),
            "feed_run_id": run_id,
        }
        counts["warehouse_published"] = not keep
        if newer:
            counts["newer_warehouse_kept" if keep else "newer_warehouse_replaced"] = str(newer)
        record = _succeeded_run(settings, run_id, logical_date)
        record.setdefault("stages", {})["publish"] = counts
        if keep:
            _refresh_run_table(settings, record, draft)
        else:
            _build_warehouse(settings, policy, record, draft, logical_date)
        _swap_feed(staging, feed_dir)
        refresh_latest(layout.email_feed)
        runs.record_published(layout, run_id, "email_feed", feed_run_id=run_id)
        _swap_feed(ad_staging, ad_dir)
        ad_export.retire_superseded(
            layout.ad_export, ad_export.superseded_until(policy, logical_date)
        )
        runs.record_published(layout, run_id, "ad_export")
        warehouse.swap_in(draft, layout.warehouse)
        if not keep:
            runs.record_published(layout, run_id, "warehouse")
    except BaseException:
        _discard(draft)
        _discard(staging)
        _discard(ad_staging)
        raise
    log.info("published feed %s and warehouse %s", feed_dir, layout.warehouse)
    mirrored = objectstore.mirror_exports(settings) if settings.export_url else {}
    return {**counts, "feed_dir": str(feed_dir), "warehouse": str(layout.warehouse), **mirrored}
