"""Purge: erasures, resurrection suppression and retention, deleting physically in every store.

Runs in the nightly run right after ingest (so an erasure received today is applied before anything
is derived from the data) and on its own as `kalido purge --date D [--compact]` / the
kalido_retention DAG.

Erasure is immediate in effect and batched in bytes (issue 25). The night a request arrives, the
person's rows are deleted from the raw tables and their browsing rows become pending
(raw_browsing.py), which every reader leaves out, so nothing derived, published or exported holds
them from that run on; feeds, subject-access exports and logs lose them at once too (small files).
The bytes left in the retained files (restricted/raw.duckdb, raw browsing and landing files, the
staged browsing partitions, the legal archive) go in a compaction, which rewrites those files once
for every erasure pending: on demand (`compact`), or when the earliest pending due date less the
policy's erasure_compaction_lead_days is reached. DuckDB DELETE leaves the old bytes in the
database file, so the compaction rebuilds the database into a new file and swaps it in; landing
and browsing files are rewritten whole. Retention removes bytes at once, as before: an expired
customer is due the same night, and a rule's deleted rows rebuild the database the same night.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa

from kalido.config import ConfigError, Layout, Settings
from kalido.db import attach, connect, in_fresh_process, rebuild_database, run_sql
from kalido.policy import Policy
from kalido.stores import ad_export, objectstore, raw_browsing, runs, unchanged
from kalido.stores.email_feed import refresh_latest
from kalido.stores.identities import assign_pseudonyms
from kalido.stores.rewrite import Needles, rewrite_feed_dir, rewrite_file
from kalido.stores.shards import shards_dir
from kalido.stores.staged import compact_staging, stored_signatures
from kalido.suppression import request_pseudonym, suppression_secret, suppression_tag
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

REPORT_FIELDS = ("rows_removed", "files_removed", "files_rewritten", "rows_archived")
# A customer expires as a whole (account, orders, consents, requests go together), and an expired
# advertising cookie loses its events and its choices together: such rules must agree.
SAME_PERIOD = (
    (
        ("raw_customers", "last_activity"),
        ("raw_orders", "last_activity"),
        ("raw_consents", "last_activity"),
        ("raw_requests", "last_activity"),
    ),
    (("raw_browsing", "first_ad_grant"), ("raw_consents", "first_ad_grant")),
)
# Every timed (store, clock) rule this module enforces; a test holds it equal to the policy's.
ENFORCED = {pair for group in SAME_PERIOD for pair in group} | {
    ("landing_files", "ingested"),
    ("raw_browsing", "event"),
    ("raw_consents", "event"),
    ("raw_quarantine", "ingested"),
    ("raw_products", "superseded"),
    ("ingest_ledger", "ingested"),
    ("request_log", "completed"),
    ("purge_log", "event"),
    ("legal_archive", "latest_order"),
    ("email_feeds", "file_time"),
    ("ad_segment_exports", "superseded"),
    ("subject_access_exports", "file_time"),
    ("restricted_logs", "file_time"),
    ("run_records", "file_time"),
    ("purge_reports", "file_time"),
    ("dpo_reports", "file_time"),
    ("quality_results", "file_time"),
    ("evaluation_outputs", "file_time"),
}


class Report:
    """Per-store counts of what a purge removed (no personal data)."""

    def __init__(self) -> None:
        self.stores: dict[str, Counter] = defaultdict(Counter)

    def add(self, store: str, **counts: int) -> None:
        self.stores[store].update({k: v for k, v in counts.items() if v})

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            store: {field: counts.get(field, 0) for field in REPORT_FIELDS}
            for store, counts in sorted(self.stores.items())
            if any(counts.values())
        }


# The purge's own bookkeeping, not a store's rows: never counted as removed.
BOOKKEEPING = ("cookies_removed_ahead", "retention_horizons")


def _table_counts(con: duckdb.DuckDBPyConnection, catalog: str = "") -> dict[str, int]:
    """Rows per table, but for the purge's bookkeeping (pending_ tables of the compaction,
    BOOKKEEPING)."""
    names = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database()"
            if not catalog
            else "select table_name from duckdb_tables() where database_name = $c",
            {"c": catalog} if catalog else None,
        ).fetchall()
    ]
    prefix = f"{catalog}." if catalog else ""
    return {
        n: con.execute(f"select count(*) from {prefix}{n}").fetchone()[0]
        for n in names
        if not n.startswith("pending_") and n not in BOOKKEEPING
    }


def _suppressed(con: duckdb.DuckDBPyConnection, new: pa.Table, secret: bytes) -> pa.Table:
    """The new identifiers (domain, raw_id) whose tag is on the suppression list."""
    domains, raw_ids = new.column("domain").to_pylist(), new.column("raw_id").to_pylist()
    candidates = pa.table(  # noqa: F841 - read by DuckDB below
        {
            "domain": pa.array(domains, pa.string()),
            "raw_id": pa.array(raw_ids, pa.string()),
            "tag": [suppression_tag(secret, d, r) for d, r in zip(domains, raw_ids, strict=True)],
        }
    )
    return con.execute(
        "select c.domain, c.raw_id from candidates as c"
        " inner join suppression_list as s on s.domain = c.domain and s.tag = c.tag"
    ).to_arrow_table()


def _since(policy: Policy, store: str, clock: str, cutoff: datetime) -> datetime:
    for group in SAME_PERIOD:
        if (store, clock) in group and len({policy.store(s).period(c) for s, c in group}) > 1:
            raise ConfigError(
                f"policy: the {clock} rules of {', '.join(s for s, _ in group)} differ"
            )
    return policy.store(store).period(clock).before(cutoff)


def _purge_restricted(
    settings: Settings,
    policy: Policy,
    logical_date: date,
    run_id: str,
    report: Report,
    compact: bool,
) -> dict:
    layout = settings.layout
    tz = policy.business_timezone
    cutoff = day_end_utc(logical_date, tz)
    secret = suppression_secret(layout)
    # Identifiers delivered since the last assignment: the erased ones among them are purged.
    new_identifiers = assign_pseudonyms(settings)
    archive_path = layout.restricted / "archive" / "legal_archive.duckdb"
    with connect(archive_path) as con:
        run_sql(con, "purge/archive_tables")
    params = {
        "key_version": settings.key_version,
        "logical_date": logical_date,
        "cutoff": cutoff,
        "inactive_since": _since(policy, "raw_customers", "last_activity", cutoff),
        "feed_purposes": list(policy.email_feed.required_purposes),
    }
    summary: dict = {}
    with connect(layout.raw_db, timezone=tz) as con:
        attach(con, archive_path, "archive", read_only=False)
        run_sql(con, "purge/create_tables")
        run_sql(con, "purge/bytes_removed_column")
        raw_browsing.open_view(con, layout, removable=True)
        con.create_function(
            "kalido_request_pid",
            partial(request_pseudonym, secret),
            [duckdb.sqltype("VARCHAR")],
            duckdb.sqltype("VARCHAR"),
            side_effects=False,
        )
        suppressed = _suppressed(con, new_identifiers, secret)  # noqa: F841 - read by DuckDB
        con.execute("create or replace temp table suppressed_ids as select * from suppressed")
        con.begin()
        run_sql(
            con,
            "requests/log_pending",
            {
                **params,
                "run_id": run_id,
                "timezone": tz,
                "due_months": policy.request_due_months,
            },
        )
        run_sql(con, "requests/rectify", {**params, "run_id": run_id})
        con.commit()
        run_sql(con, "purge/targets", params)
        before = _table_counts(con)
        targets = dict(
            con.execute("select reason, count(*) from target_customers group by reason").fetchall()
        )
        per_target = defaultdict(dict)
        for pid, store, n_rows in run_sql(con, "purge/target_counts").fetchall():
            per_target[pid][store] = n_rows
        needles = _needles(con, "select domain, needle from target_needles")
        # (needle, reason class): the feeds' removals.csv names the removed by reason class.
        feed_reasons = dict(run_sql(con, "purge/feed_exclusions", params).fetchall())
        feed_needles = Needles({"customer": frozenset(feed_reasons)})
        tags = con.execute(
            "select distinct domain, raw_id from target_ids"
            " where reason in ('erasure', 'suppressed')"
        ).fetchall()
        archived_before = _table_counts(con, "archive")
        run_sql(con, "purge/archive_targets", params)
        archived_after = _table_counts(con, "archive")
        con.begin()
        # In effect tonight; the bytes wait for the compaction (which may be tonight's).
        run_sql(con, "purge/files_to_rewrite")
        run_sql(
            con,
            "purge/pending_targets",
            {"logical_date": logical_date, "due_months": policy.request_due_months},
        )
        pending_before = _pending_rows(con)
        run_sql(con, "purge/delete_targets")
        report.add("raw_browsing", rows_removed=_pending_rows(con) - pending_before)
        in_effect = _table_counts(con)
        # Before the ledger's own retention: the ledger says which files were ingested when.
        _expire_landing(
            con, layout, _since(policy, "landing_files", "ingested", cutoff).date(), report
        )
        # Before the nightly rules: their last one drops the identifiers no store holds any more.
        cookies_through = _expire_cookies(con, layout, policy, logical_date, compact)
        run_sql(
            con,
            "purge/retention_raw",
            {
                "browsing_since": _since(policy, "raw_browsing", "event", cutoff),
                "quarantine_since": _since(policy, "raw_quarantine", "ingested", cutoff).date(),
                "superseded_before": _since(policy, "raw_products", "superseded", cutoff).date(),
                "ledger_since": _since(policy, "ingest_ledger", "ingested", cutoff).date(),
                "request_log_since": _since(policy, "request_log", "completed", cutoff).date(),
                "purge_log_since": _since(policy, "purge_log", "event", cutoff).date(),
            },
        )
        # Before the commit: if it fails, the next purge finds what is left and removes it.
        rewritten = raw_browsing.rewrite_removed(con, layout)
        report.add("raw_browsing", **vars(rewritten))
        after = _table_counts(con)
        for table, n_before in before.items():
            report.add(table, rows_removed=n_before - after.get(table, 0))
        for table, n_after in archived_after.items():
            report.add("legal_archive", rows_archived=n_after - archived_before.get(table, 0))
        _suppress(con, secret, tags, logical_date)
        _complete_erasures(con, per_target, logical_date, run_id)
        con.commit()
        # A retention rule's deletes leave the database tonight, as they always did.
        retained_rows_deleted = any(in_effect[t] > after.get(t, 0) for t in in_effect)
        due = run_sql(con, "purge/compaction_due").fetchone()[0]
        lead = timedelta(days=policy.erasure_compaction_lead_days)
        compacting = compact or (due is not None and due - lead <= logical_date)
        if compacting:
            con.begin()
            _compact(con, settings, logical_date, report)
            con.commit()
            due = None
        summary = {
            "erased_customers": targets.get("erasure", 0),
            "suppressed_customers": targets.get("suppressed", 0),
            "expired_customers": targets.get("expired", 0),
            "suppressed_identifiers": len(suppressed),
            "compacted": compacting,
            "cookies_removed_through": cookies_through.isoformat(),
            "bytes_pending_due_on": due.isoformat() if due else None,
        }
        erasures = run_sql(con, "purge/erasure_bytes")
        names = [column[0] for column in erasures.description]
        summary["_erasures"] = [dict(zip(names, row, strict=True)) for row in erasures.fetchall()]
    if compacting or retained_rows_deleted:
        # In a fresh process: one that read the erased values could leave some of its stale
        # buffer memory in the unused tails of the new file's blocks.
        in_fresh_process(rebuild_database, layout.raw_db, False)
    if compacting:
        # The stages that read the staged partitions while they still held pending rows (gate,
        # features, ads) wrote these files: copied, they keep values only.
        derived = [layout.work_db, *sorted(shards_dir(layout).glob("*.duckdb"))]
        for path in [p for p in derived if p.is_file()]:
            in_fresh_process(rebuild_database, path)
    _purge_archive(policy, archive_path, cutoff, report, rebuild=compacting)
    summary["_needles"] = needles
    summary["_feed_needles"] = feed_needles
    summary["_feed_reasons"] = feed_reasons
    return summary


def _expire_cookies(con, layout: Layout, policy: Policy, logical_date: date, compact: bool) -> date:
    """The cookie rules (first_ad_grant, cookie choices), ahead: the first night within
    erasure_compaction_lead_days of the last removal's horizon (or a compaction asked for)
    removes every cookie whose period ends within cookie_expiry_ahead_days, and the events such
    a cookie still sends go the night they land. A cookie's data is held up to that many days
    less than its period, never a day more, and the browsing files are rewritten for expiring
    cookies about once a week instead of every night (an expiring cookie's events lie in every
    partition of its 13 months). Returns the horizon."""
    found = con.execute(
        "select removed_through from retention_horizons where rule = 'cookies'"
    ).fetchone()
    lead = timedelta(days=policy.erasure_compaction_lead_days)
    through = found[0] if found else None
    if through is None or compact or through - lead <= logical_date:
        through = logical_date + timedelta(days=policy.cookie_expiry_ahead_days)
        horizon = day_end_utc(through, policy.business_timezone)
        run_sql(con, "purge/ad_cookies")
        run_sql(
            con,
            "purge/retention_cookies",
            {
                "ad_since": _since(policy, "raw_browsing", "first_ad_grant", horizon),
                "cookie_choice_since": _since(policy, "raw_consents", "event", horizon),
                "removed_through": through,
            },
        )
    arrived = con.execute(
        "select partition_date, file_id from ingest_ledger"
        " where source = 'browsing' and logical_date = $d",
        {"d": logical_date},
    ).fetchall()
    raw_browsing.open_view(con, layout, removable=True, only=arrived)
    run_sql(con, "purge/cookie_arrivals", {"logical_date": logical_date})
    raw_browsing.open_view(con, layout, removable=True)
    return through


def _pending_rows(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select count(*) from pending_browsing_rows").fetchone()[0]


def _compact(con, settings: Settings, logical_date: date, report: Report) -> None:
    """Remove the bytes of everything pending from the files that hold them: landing files,
    raw browsing files and staged browsing partitions (the caller then rebuilds the databases).
    Each file is rewritten once for every erasure pending: what batching saves."""
    layout = settings.layout
    events = con.execute(
        "select _partition_date, event_id, event_time from pending_browsing_rows"
    ).to_arrow_table()
    days = sorted({day.isoformat() for day in events.column("_partition_date").to_pylist()})
    signatures = stored_signatures(settings, days)
    files = run_sql(con, "purge/compaction_files").fetchall()
    needles = _needles(con, "select distinct domain, needle from pending_needles")
    _rewrite_landing(con, layout, files, needles, logical_date, report)
    con.execute(
        "insert into raw_browsing_removed"
        " select _partition_date, _file_id, _row from pending_browsing_rows"
    )
    rewritten = raw_browsing.rewrite_removed(con, layout)
    # Their rows were counted as removed the night they became pending.
    report.add(
        "raw_browsing",
        files_removed=rewritten.files_removed,
        files_rewritten=rewritten.files_rewritten,
    )
    report.add("browsing_partitions", files_rewritten=compact_staging(settings, events, signatures))
    run_sql(con, "purge/compaction_done", {"logical_date": logical_date})


def _needles(con: duckdb.DuckDBPyConnection, sql: str) -> Needles:
    found: dict[str, set[str]] = defaultdict(set)
    for domain, needle in con.execute(sql).fetchall():
        found[domain].add(needle)
    return Needles({d: frozenset(v) for d, v in found.items()})


def _rewrite_landing(con, layout: Layout, files, needles: Needles, logical_date, report) -> None:
    present = [
        (file_id, source, layout.landing / relative)
        for file_id, source, relative in files
        if (layout.landing / relative).exists()
    ]

    def rewrite(item: tuple[str, str, Path]):
        # A thread per file: (de)compressing and searching release the GIL, so the night's
        # retail-size browsing files are rewritten on every core at once.
        file_id, source, path = item
        return file_id, rewrite_file(path, source, needles)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(rewrite, present))
    for file_id, result in results:
        if result.sha256 is None:
            report.add("landing_files", rows_removed=result.rows_removed, files_removed=1)
            con.execute(
                "update ingest_ledger set removed_on = $d, rows_erased = rows_erased + $n"
                " where file_id = $f",
                {"d": logical_date, "n": result.rows_removed, "f": file_id},
            )
        elif result.rows_removed:
            report.add("landing_files", rows_removed=result.rows_removed, files_rewritten=1)
            con.execute(
                "update ingest_ledger set sha256 = $s, size_bytes = $b, rewritten_on = $d,"
                " rows_erased = rows_erased + $n where file_id = $f",
                {
                    "s": result.sha256,
                    "b": result.size_bytes,
                    "d": logical_date,
                    "n": result.rows_removed,
                    "f": file_id,
                },
            )


def _expire_landing(con, layout: Layout, since: date, report: Report) -> None:
    """Landing files ingested before `since` go (the raw tables hold their rows from then on)."""
    rows = con.execute(
        "select file_id, path from ingest_ledger where logical_date < $s and removed_on is null",
        {"s": since},
    ).fetchall()
    for file_id, relative in rows:
        path = layout.landing / relative
        if path.exists():
            path.unlink()
            report.add("landing_files", files_removed=1)
            _remove_empty_parents(path.parent, layout.landing)
        con.execute(
            "update ingest_ledger set removed_on = $d where file_id = $f",
            {"d": since, "f": file_id},
        )


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _suppress(con, secret: bytes, identifiers, logical_date: date) -> None:
    entries = pa.table(  # noqa: F841 - read by DuckDB below
        {
            "domain": [d for d, _ in identifiers],
            "tag": [suppression_tag(secret, d, r) for d, r in identifiers],
        }
    )
    con.execute(
        "insert or ignore into suppression_list select distinct domain, tag, $d from entries",
        {"d": logical_date},
    )


def _complete_erasures(con, per_target: dict, logical_date: date, run_id: str) -> None:
    """Close the erasure requests, and the open requests of everyone erased (nothing is left)."""
    erased = con.execute("select distinct pid from target_customers where reason <> 'expired'")
    for (pid,) in erased.fetchall():
        con.execute(
            "update request_log set status = 'completed', completed_on = $d, run_id = $r,"
            " rows_affected = $rows,"
            " note = case when type = 'erasure' then null else 'customer erased' end"
            " where customer_pid = $p and status = 'open'",
            {
                "d": logical_date,
                "r": run_id,
                "rows": json.dumps(per_target.get(pid, {}), sort_keys=True),
                "p": pid,
            },
        )


def _purge_archive(
    policy: Policy, path: Path, cutoff: datetime, report: Report, rebuild: bool
) -> None:
    """The archive's retention; rebuilt when it lost rows, or by a compaction (the purge that
    archived an erased customer's invoice data had read the rest of their data)."""
    with connect(path) as con:
        before = _table_counts(con)
        run_sql(
            con,
            "purge/retention_archive",
            {"archive_since": _since(policy, "legal_archive", "latest_order", cutoff)},
        )
        removed = sum(before.values()) - sum(_table_counts(con).values())
    report.add("legal_archive", rows_removed=removed)
    if removed or rebuild:
        in_fresh_process(rebuild_database, path)


def _file_time(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)


def _expire_by_mtime(root: Path, since: datetime, store: str, report: Report) -> None:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and _file_time(path) < since:
            path.unlink()
            report.add(store, files_removed=1)
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def _purge_exports(
    layout: Layout,
    policy: Policy,
    logical_date: date,
    needles: Needles,
    feed_needles: Needles,
    report: Report,
    feed_reasons: dict[str, str] | None,
) -> None:
    """Feeds, ad-server and subject-access exports: at once for the erased (they are published),
    after their period for the rest."""
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    # Email feeds: old ones go whole; the rest lose the rows of people who may no longer get them.
    feed_root = layout.email_feed
    if feed_root.is_dir():
        feed_since = _since(policy, "email_feeds", "file_time", cutoff).date().isoformat()
        for feed_dir in sorted(feed_root.glob("dt=*")):
            if feed_dir.name.removeprefix("dt=") < feed_since:
                shutil.rmtree(feed_dir)
                report.add("email_feeds", files_removed=1)
            else:
                removed = rewrite_feed_dir(feed_dir, feed_needles, layout.spill, feed_reasons)
                report.add("email_feeds", rows_removed=removed, files_rewritten=int(bool(removed)))
        refresh_latest(feed_root)
    # Ad-server exports: gone once a newer one is out (publish retires them too).
    removed = ad_export.retire_superseded(
        layout.ad_export, ad_export.superseded_until(policy, logical_date)
    )
    report.add("ad_segment_exports", files_removed=removed)
    # Subject-access exports: gone after their period, and at once when the customer is erased.
    access_root = layout.home / "exports" / "subject_access"
    if access_root.is_dir():
        access_since = _since(policy, "subject_access_exports", "file_time", cutoff)
        for path in sorted(access_root.glob("*.json")):
            export = json.loads(path.read_text(encoding="utf-8"))
            generated = datetime.fromisoformat(export.get("generated_for", "1970-01-01"))
            customer_id = (export.get("account") or {}).get("customer_id")
            if generated < access_since or needles.matches("customer", customer_id):
                path.unlink()
                report.add("subject_access_exports", files_removed=1)


def _purge_records(
    layout: Layout, policy: Policy, logical_date: date, needles: Needles, report: Report
) -> None:
    """Logs, run records, reports, quality results and evaluation outputs after their period;
    a traceback quoting an erased person at once."""
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    # Tracebacks can quote values: an erased person's go at once, the rest after their period.
    logs = layout.restricted / "logs"
    if logs.is_dir():
        logs_since = _since(policy, "restricted_logs", "file_time", cutoff)
        for path in sorted(logs.iterdir()):
            if path.is_file() and (
                _file_time(path) < logs_since
                or needles.anywhere(path.read_text(encoding="utf-8", errors="replace"))
            ):
                path.unlink()
                report.add("restricted_logs", files_removed=1)
    # Run records (with the fingerprint of the last successful run, see unchanged.py), purge
    # reports and DPO reports: each with the ISO day it is from.
    records = [*sorted(layout.runs.glob("*.json")), layout.runs / unchanged.RECORD]
    dpo_reports = sorted((layout.home / "reports" / "dpo").glob("*_*"))
    dated = (
        (
            "run_records",
            [p for p in records if p.exists()],
            lambda p: json.loads(p.read_text(encoding="utf-8")).get("logical_date", "9999"),
        ),
        (
            "purge_reports",
            sorted((layout.home / "reports" / "purge").glob("*.json")),
            lambda p: p.name[:10],
        ),
        # One folder per period, <from>_<to>: its day is the end of its period.
        ("dpo_reports", [p for p in dpo_reports if p.is_dir()], lambda p: p.name.partition("_")[2]),
    )
    for store, paths, day in dated:
        since = _since(policy, store, "file_time", cutoff).date().isoformat()
        for path in paths:
            if day(path) < since:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                report.add(store, files_removed=1)
    for store, folder in (("quality_results", "quality"), ("evaluation_outputs", "evaluation")):
        since = _since(policy, store, "file_time", cutoff)
        _expire_by_mtime(layout.home / folder, since, store, report)


def purge(
    settings: Settings, policy: Policy, logical_date: date, run_id: str, compact: bool = False
) -> dict:
    """Apply erasures, suppression and every retention rule as of the logical date; `compact`:
    remove the bytes of every pending erasure tonight, whatever their due dates."""
    layout = settings.layout
    report = Report()
    summary = _purge_restricted(settings, policy, logical_date, run_id, report, compact)
    needles, feed_needles = summary.pop("_needles"), summary.pop("_feed_needles")
    feed_reasons = summary.pop("_feed_reasons")
    erasures = summary.pop("_erasures")
    _purge_exports(layout, policy, logical_date, needles, feed_needles, report, feed_reasons)
    _purge_records(layout, policy, logical_date, needles, report)
    if settings.export_url:  # the bucket's feeds follow the local ones at once
        objectstore.mirror_exports(settings, warehouse=False)
    stores = report.as_dict()
    path = layout.home / "reports" / "purge" / f"{logical_date}__{runs.file_stem(run_id)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"logical_date": logical_date.isoformat(), "run_id": run_id, **summary}
    # Every erasure of the request log (by request pseudonym) with the day its bytes were gone.
    document = {**document, "stores": stores, "erasures": erasures}
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    with connect(layout.raw_db) as con:
        con.execute("delete from purge_log where run_id = $r", {"r": run_id})
        for store, counts in stores.items():
            con.execute(
                "insert into purge_log values ($d, $r, $s, $a, $b, $c, $e)",
                {
                    "d": logical_date,
                    "r": run_id,
                    "s": store,
                    "a": counts["rows_removed"],
                    "b": counts["files_removed"],
                    "c": counts["files_rewritten"],
                    "e": counts["rows_archived"],
                },
            )
    totals = Counter()
    for counts in stores.values():
        totals.update(counts)
    log.info("purged: %s", dict(totals))
    return {**summary, **{f: totals.get(f, 0) for f in REPORT_FIELDS}, "report": str(path)}
