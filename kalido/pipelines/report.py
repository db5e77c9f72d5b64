"""The DPO's report for a period (issue 29): the evidence, store by store, that the policy was kept.

`kalido report --from D1 --to D2 [--out DIR]` and the kalido_report DAG call `write_report`. It
reads the stores without writing to them (restricted/raw.duckdb and raw browsing's files, the
legal archive, run records, purge reports, exports, landing) and writes report.json and
report.html (kalido/report_html.py) beside each other. Both hold request pseudonyms, run ids,
store names, dates, counts and hashes only: never a request id (the sender's free text), a
customer or cookie identifier, or a landing file name.

Everything in report.json except `generated_at` follows from the stores and the policy file, so
a re-generation for the same period, on the same stores, gives the same file.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from kalido.config import ConfigError, Layout, RunInProgress, default_home, policy_path
from kalido.db import attach, connect, run_sql, sha256_of, sql_text, write_text_whole
from kalido.policy import DEFAULT_POLICY_PATH, UNTIMED_CLOCKS, Policy, load_policy
from kalido.stores import raw_browsing, runs
from kalido.stores.email_feed import MANIFEST
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

REPORT_VERSION = 1
FILES = ("report.json", "report.html")
# Request states, the ones the DPO must act on first.
REQUEST_STATES = ("failed", "overdue", "late", "open", "on time")
UNTIMED_MEANING = {
    "rebuilt": "rebuilt whole by every run from the stores above: follows them",
    "referenced": "kept while another store holds the identifier",
    "never": "kept: no personal data, or what keeps an erasure erased",
}


def parse_period(start: str, end: str) -> tuple[date, date]:
    """The period's first and last day; a ConfigError (exit 2, one line) when they are no dates
    or the first comes after the last."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise ConfigError("--from and --to must be dates as YYYY-MM-DD") from None
    if first > last:
        raise ConfigError(f"--from {first} is after --to {last}")
    return first, last


def default_out(home: Path, start: date, end: date) -> Path:
    """KALIDO_HOME/reports/dpo/<from>_<to>/ (the dpo_reports store of the policy)."""
    return home / "reports" / "dpo" / f"{start}_{end}"


def write_report(start: date, end: date, out: Path | None = None) -> dict:
    """Write report.json and report.html for the days start..end; returns where, and the
    findings. ConfigError when the home is missing or holds no store yet; RunInProgress while a
    CLI run holds the home."""
    from kalido import report_html

    if start > end:
        raise ConfigError(f"--from {start} is after --to {end}")
    home = default_home()
    if not home.is_dir():
        raise ConfigError(f"KALIDO_HOME {home} does not exist or is not a directory")
    layout = Layout(home)
    if not layout.raw_db.is_file():
        raise ConfigError(f"KALIDO_HOME {home} holds no restricted/raw.duckdb: no run yet")
    policy_file = policy_path() or DEFAULT_POLICY_PATH
    policy = load_policy(policy_file)
    out = (out or default_out(home, start, end)).resolve()
    # Shared like a task of a run: a CLI run (exclusive) is not writing meanwhile, none starts.
    with runs.shared(layout, f"report__{start}_{end}"):
        facts = build_report(layout, policy, policy_file, start, end, own_dir=out)
    document = {"generated_at": runs.now_utc(), **facts}
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_text_whole(out / "report.json", text)
    write_text_whole(out / "report.html", report_html.render(document))
    log.info("DPO report for %s..%s in %s", start, end, out)
    return {"out": str(out), "files": list(FILES), "findings": facts["findings"]}


def build_report(
    layout: Layout,
    policy: Policy,
    policy_file: Path,
    start: date,
    end: date,
    own_dir: Path | None = None,
) -> dict:
    """Every fact of the report (without its generation time), read from the stores."""
    records = runs.all_runs(layout)
    by_id = {r["run_id"]: r for r in records}
    in_period = [r for r in records if start.isoformat() <= r["logical_date"] <= end.isoformat()]
    purge_reports = _purge_reports(layout)
    last_purge = max((day for day, _ in purge_reports), default=None)
    today = datetime.now(ZoneInfo(policy.business_timezone)).date()
    # Retention is judged as of the end of the period (today, if it is not over) or, when the
    # stores were purged later than that, as of that purge: they hold what it left.
    as_of = max(min(end, today), last_purge or start)
    period = {"from": start.isoformat(), "to": end.isoformat(), "as_of": as_of.isoformat()}
    tz = policy.business_timezone
    params = {"date_from": start, "date_to": end, "timezone": tz}
    with _open_raw(layout, tz) as con:
        requests = _requests(con, params, policy, records, by_id, purge_reports, as_of)
        retention = _retention(con, layout, policy, as_of, own_dir)
        consent_events = _rows(run_sql(con, "report/consent_events", params))
        ingest = _rows(run_sql(con, "report/ingest", params))
        quarantine = _rows(run_sql(con, "report/quarantine", params))
        removed = _rows(run_sql(con, "report/purge_log", params))
    retention["removed"] = removed
    retention["last_purge"] = last_purge.isoformat() if last_purge else None
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    day_runs = _runs_by_day(in_period)
    consent = _consent(days, day_runs, by_id, consent_events, policy)
    shared = _shared(layout, days, day_runs, by_id)
    quality = _quality(days, in_period, day_runs, ingest, quarantine)
    integrity = _integrity(in_period, requests, purge_reports, start, end, policy_file)
    facts = {
        "report_version": REPORT_VERSION,
        "period": period,
        "record_of_processing": record_of_processing(policy),
        "requests": requests,
        "retention": retention,
        "consent": consent,
        "shared": shared,
        "quality": quality,
        "integrity": integrity,
    }
    facts["findings"] = _findings(facts)
    return facts


@contextmanager
def _open_raw(layout: Layout, timezone: str):
    """restricted/raw.duckdb read-only with the raw_browsing view, and the legal archive attached
    read-only when there is one. An Airflow task writing the file meanwhile makes DuckDB refuse
    the lock: reported as a run in progress (exit 2, retried by the DAG), not as a failure."""
    try:
        con = connect(layout.raw_db, timezone=timezone, read_only=True)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise RunInProgress(
            "a run is writing restricted/raw.duckdb: report once it has finished"
        ) from None
    try:
        raw_browsing.open_view(con, layout)
        archive = layout.restricted / "archive" / "legal_archive.duckdb"
        if archive.is_file():
            attach(con, archive, "archive")
        yield con
    finally:
        con.close()


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [column[0] for column in cursor.description]
    return [
        {name: _plain(value) for name, value in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


def _plain(value):
    """A JSON value: dates and times as ISO text (UTC for times), decimals as numbers."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "as_integer_ratio") and not isinstance(value, int | float):
        return float(value)
    return value


# --- 1. record of processing ---------------------------------------------------------------------


def record_of_processing(policy: Policy) -> dict:
    """GDPR art. 30: one row per purpose, as policy.yaml states it (purposes of consent, then the
    processing on other legal bases), with the retention rules of the stores each names."""

    def rules(store: str) -> list[dict]:
        return [
            {"after": r.after, "keep": r.keep.iso() if r.keep else None, "then": r.then}
            for r in policy.store(store).rules
        ]

    rows = []
    for kind, entries in (("consent purpose", policy.purposes), ("processing", policy.processing)):
        for purpose in entries.values():
            rows.append(
                {
                    "purpose": purpose.name,
                    "kind": kind,
                    "description": purpose.description,
                    "legal_basis": purpose.legal_basis,
                    "data_subjects": list(purpose.data_subjects),
                    "categories": list(purpose.categories),
                    "stores": list(purpose.stores),
                    "retention": {store: rules(store) for store in purpose.stores},
                    "recipients": list(purpose.recipients),
                }
            )
    named = {store for row in rows for store in row["stores"]}
    return {
        "purposes": rows,
        # A store holding personal data that no purpose names is a gap in the record.
        "unaccounted_stores": sorted(
            s.name for s in policy.retention.values() if s.personal_data and s.name not in named
        ),
    }


# --- 2. requests --------------------------------------------------------------------------------


def _purge_reports(layout: Layout) -> list[tuple[date, Path]]:
    """Every purge report, with the day it purged as of (its name: <date>__<run>.json)."""
    folder = layout.home / "reports" / "purge"
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append((date.fromisoformat(path.name[:10]), path))
        except ValueError:
            continue
    return found


def _request_state(row: dict, as_of: date) -> str:
    if row["status"] == "failed":
        return "failed"
    if row["completed_on"]:
        return "late" if row["completed_on"] > row["due_on"] else "on time"
    return "overdue" if as_of.isoformat() > row["due_on"] else "open"


def _published_warehouse(record: dict) -> bool:
    published = [p.get("output") for p in record.get("published", [])]
    return "warehouse" in published or (
        record.get("status") == "success" and "publish" in record.get("stages", {})
    )


def _bytes_removed_on(purge_reports) -> dict[str, str]:
    """Request pseudonym -> the day its erasure's bytes were gone from every retained file, as
    the newest purge report lists every erasure of the request log (see purge.py)."""
    if not purge_reports:
        return {}
    try:
        listed = json.loads(purge_reports[-1][1].read_text(encoding="utf-8")).get("erasures")
    except (OSError, ValueError):
        return {}
    return {e["request"]: e["bytes_removed_on"] for e in listed or [] if e.get("bytes_removed_on")}


def _erasure(row: dict, records: list[dict], by_id: dict, purge_reports, bytes_removed) -> dict:
    """When an erased person left the outputs (the first warehouse and feed published from the
    purged stores), the purge that deleted them in effect (its report) and when their bytes were
    gone from every retained file (the compaction after it, issue 25)."""
    run = by_id.get(row["run_id"])
    report = next(
        (p for _, p in purge_reports if p.name.endswith(f"__{runs.file_stem(row['run_id'])}.json")),
        None,
    )
    suppressed = None
    if run:
        later = [r for r in records if (r.get("started_at") or "") >= (run.get("started_at") or "")]
        suppressed = next((r["logical_date"] for r in later if _published_warehouse(r)), None)
    return {
        "purged_on": report.name[:10] if report else None,
        "purge_report": report.name if report else None,
        "suppressed_from_outputs_on": suppressed,
        "bytes_removed_on": bytes_removed.get(row["request_pid"]),
    }


def _requests(con, params, policy, records, by_id, purge_reports, as_of) -> dict:
    logged = _rows(run_sql(con, "report/requests", params))
    bytes_removed = _bytes_removed_on(purge_reports)
    listed = []
    for row in logged:
        entry = {
            "request": row["request_pid"],
            "type": row["type"],
            "purpose": row["purpose"],
            "received_on": row["received_on"],
            "due_on": row["due_on"],
            "answered_on": row["completed_on"],
            "state": _request_state(row, as_of),
            "note": row["note"],
            "rows_affected": json.loads(row["rows_affected"]) if row["rows_affected"] else {},
            "run_id": row["run_id"],
        }
        if row["type"] == "erasure" and row["completed_on"]:
            entry["erasure"] = _erasure(row, records, by_id, purge_reports, bytes_removed)
        listed.append(entry)
    listed.sort(key=lambda e: (REQUEST_STATES.index(e["state"]), e["received_on"], e["request"]))
    totals: dict[str, Counter] = defaultdict(Counter)
    for entry in listed:
        totals[entry["type"]]["received"] += 1
        totals[entry["type"]][entry["state"]] += 1
    reused = run_sql(con, "report/requests_reused", params).fetchone()[0]
    return {
        "due_within_months": policy.request_due_months,
        "as_of": as_of.isoformat(),
        "listed": listed,
        "totals": {
            kind: {state: counts.get(state, 0) for state in ("received", *REQUEST_STATES)}
            for kind, counts in sorted(totals.items())
        },
        "reused_request_ids": reused,
    }


# --- 3. retention -------------------------------------------------------------------------------

# Rules the purge compares by day (a date, a dt= folder, a file name), not by instant.
DAY_RULES = {
    ("landing_files", "ingested"),
    ("raw_quarantine", "ingested"),
    ("raw_products", "superseded"),
    ("ingest_ledger", "ingested"),
    ("request_log", "completed"),
    ("purge_log", "event"),
    ("email_feeds", "file_time"),
    ("ad_segment_exports", "superseded"),
    ("run_records", "file_time"),
    ("purge_reports", "file_time"),
    ("dpo_reports", "file_time"),
}


def _since(policy: Policy, store: str, clock: str, cutoff: datetime) -> datetime | date:
    """The purge's cutoff of a rule as of a day: the clock of what it keeps starts on or after."""
    since = policy.store(store).period(clock).before(cutoff)
    return since.date() if (store, clock) in DAY_RULES else since


def _all_params(name: str, params: dict) -> dict:
    """Every $parameter of sql/<name>.sql, None where the policy has no such rule (a policy
    file of another deployment): the rule is then not reported."""
    needed = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", sql_text(name)))
    return {**dict.fromkeys(needed), **params}


def _retention(con, layout: Layout, policy: Policy, as_of: date, own_dir: Path | None) -> dict:
    """Every retention rule of the policy with, for the timed ones, what its store holds: how
    many, the oldest clock start, and how many the purge would remove as of `as_of`."""
    cutoff = day_end_utc(as_of, policy.business_timezone)
    since = {
        (store.name, rule.after): _since(policy, store.name, rule.after, cutoff)
        for store in policy.retention.values()
        for rule in store.rules
        if rule.after not in UNTIMED_CLOCKS
    }
    measured = _measure_tables(con, since, as_of, cutoff)
    landing = _rows(run_sql(con, "report/landing_files"))
    for key, (unit, values) in _file_stores(layout, landing, own_dir).items():
        measured[key] = _measure(key, unit, values, since.get(key))
    rules = []
    for store in policy.retention.values():
        for rule in store.rules:
            entry = {
                "store": store.name,
                "clock": rule.after,
                "keep": rule.keep.iso() if rule.keep else None,
                "personal_data": store.personal_data,
            }
            if rule.after in UNTIMED_CLOCKS:
                rules.append({**entry, "status": "untimed", "meaning": UNTIMED_MEANING[rule.after]})
                continue
            limit = since[(store.name, rule.after)]
            found = measured.get((store.name, rule.after))
            if found is None:
                rules.append({**entry, "status": "not measured"})
                continue
            oldest = found["oldest"]
            if oldest and (store.name, rule.after) in DAY_RULES:
                oldest = oldest[:10]  # a day, as the rule counts it
            entry.update(
                unit=found["unit"],
                held=found["held"],
                overdue=found["overdue"],
                oldest=oldest,
                limit=_plain(limit),
                limit_days=(as_of - _as_date(limit)).days,
                # Written after the day judged (a file time): age 0, not a negative age.
                oldest_age_days=max((as_of - _as_date(oldest)).days, 0) if oldest else None,
            )
            entry["status"] = (
                "overdue" if found["overdue"] else ("within limit" if found["held"] else "empty")
            )
            rules.append(entry)
    return {"as_of": as_of.isoformat(), "rules": rules}


def _measure_tables(con, since: dict, as_of: date, cutoff: datetime) -> dict:
    """held, oldest and overdue of the timed rules of the restricted databases."""
    params = {f"since_{s}_{c}": value for (s, c), value in since.items()}
    params["since_last_activity"] = since.get(("raw_customers", "last_activity"))
    measured = {}
    # The purge's own selection of whom it expires (temp tables only): its last_activity.
    key_version = run_sql(con, "report/key_version").fetchone()[0]
    con.execute("create or replace temp table suppressed_ids (domain varchar, raw_id varchar)")
    run_sql(
        con,
        "purge/targets",
        {
            "key_version": key_version,
            "logical_date": as_of,
            "cutoff": cutoff,
            "inactive_since": params["since_last_activity"],
        },
    )
    run_sql(con, "purge/ad_cookies")
    names = ["report/retention_raw", "report/retention_customers"]
    if _has_archive(con):
        names.append("report/retention_archive")
    for name in names:
        for row in _rows(run_sql(con, name, _all_params(name, params))):
            measured[(row["store"], row["clock"])] = row
    return measured


def _has_archive(con) -> bool:
    databases = con.execute("select database_name from duckdb_databases()").fetchall()
    return ("archive",) in databases


def _as_date(value) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def _measure(key, unit: str, values: list, limit) -> dict:
    """held, oldest and overdue of some clock values (dates or naive UTC times)."""
    return {
        "store": key[0],
        "clock": key[1],
        "unit": unit,
        "held": len(values),
        "oldest": _plain(min(values)) if values else None,
        "overdue": sum(1 for v in values if limit is not None and v < limit),
    }


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)


def _dated_dirs(root: Path) -> list[date]:
    found = []
    for path in sorted(root.glob("dt=*")) if root.is_dir() else []:
        try:
            found.append(date.fromisoformat(path.name.removeprefix("dt=")))
        except ValueError:
            continue
    return found


def _file_stores(layout: Layout, landing: list[dict], own_dir: Path | None) -> dict:
    """Clock values of the file stores, read as the purge reads them (purge._purge_files)."""
    home = layout.home
    found: dict[tuple[str, str], tuple[str, list]] = {}
    present = [
        date.fromisoformat(row["logical_date"])
        for row in landing
        if (layout.landing / row["path"]).is_file()
    ]
    found[("landing_files", "ingested")] = ("files", present)
    found[("email_feeds", "file_time")] = ("feeds", _dated_dirs(layout.email_feed))
    # An export is superseded by the next one: its clock starts on that one's day.
    exports = _dated_dirs(home / "exports" / "ad_segments")
    found[("ad_segment_exports", "superseded")] = ("exports", exports[1:])
    access = []
    for path in sorted((home / "exports" / "subject_access").glob("*.json")):
        try:
            generated = json.loads(path.read_text(encoding="utf-8")).get("generated_for")
            access.append(datetime.fromisoformat(generated or "1970-01-01"))
        except (OSError, ValueError):
            access.append(datetime(1970, 1, 1))  # unreadable: the purge would drop it too
    found[("subject_access_exports", "file_time")] = ("files", access)
    logs = layout.restricted / "logs"
    found[("restricted_logs", "file_time")] = (
        "files",
        [_mtime(p) for p in sorted(logs.iterdir()) if p.is_file()] if logs.is_dir() else [],
    )
    run_days = []
    for path in sorted(layout.runs.glob("*.json")) if layout.runs.is_dir() else []:
        try:
            run_days.append(date.fromisoformat(json.loads(path.read_text())["logical_date"]))
        except (OSError, ValueError, KeyError):
            continue
    found[("run_records", "file_time")] = ("records", run_days)
    found[("purge_reports", "file_time")] = ("reports", [d for d, _ in _purge_reports(layout)])
    dpo = []
    for folder in sorted((home / "reports" / "dpo").glob("*_*")):
        # This report's own folder is not yet written (or is being replaced): left out, so that
        # a re-generation reads the same stores as the first.
        if folder.is_dir() and folder.resolve() != own_dir:
            try:
                dpo.append(date.fromisoformat(folder.name.partition("_")[2]))
            except ValueError:
                continue
    found[("dpo_reports", "file_time")] = ("reports", dpo)
    for store, folder in (("quality_results", "quality"), ("evaluation_outputs", "evaluation")):
        root = home / folder
        times = [_mtime(p) for p in sorted(root.rglob("*")) if p.is_file()] if root.is_dir() else []
        found[(store, "file_time")] = ("files", times)
    return found


# --- 4. consent and eligibility -----------------------------------------------------------------


def _purge_only(record: dict) -> bool:
    """A run of `kalido purge` or the retention DAG: no gate, nothing published."""
    stages = set(record.get("stages") or {})
    error = record.get("error") or ""
    return stages == {"purge"} or (not stages and error.startswith("purge"))


def _runs_by_day(records: list[dict]) -> dict[str, dict]:
    """Per logical date, the nightly run whose outputs stood: its last successful one, else its
    last one (a purge run on its own decides nothing of the day's outputs)."""
    chosen: dict[str, dict] = {}
    for record in (r for r in records if not _purge_only(r)):  # oldest first
        day = record["logical_date"]
        if record.get("status") == "success" or chosen.get(day, {}).get("status") != "success":
            chosen[day] = record
    return chosen


def _stage(record: dict, name: str, by_id: dict) -> dict:
    """A stage's counts; a run that found nothing new since an earlier one has that one's."""
    stage = record.get("stages", {}).get(name, {})
    earlier = by_id.get(record.get("unchanged_since") or "")
    if "skipped" in stage and earlier and earlier is not record:
        return _stage(earlier, name, by_id)
    return stage


def _numbers(counts: dict, prefix: str) -> dict[str, int]:
    return {
        name.removeprefix(prefix): value
        for name, value in sorted(counts.items())
        if name.startswith(prefix) and isinstance(value, int) and not isinstance(value, bool)
    }


def _ad_counts(record: dict, by_id: dict) -> dict:
    """The ads stage's counts, wherever a run recorded them (read defensively: it is new)."""
    for name in record.get("stages", {}):
        counts = _stage(record, name, by_id)
        if "ad_profiles" in counts:
            return counts
    return {}


def _consent(days, day_runs, by_id, consent_events: list[dict], policy: Policy) -> dict:
    per_day = []
    for day in days:
        record = day_runs.get(day.isoformat())
        if record is None:
            per_day.append({"day": day.isoformat(), "run_id": None})
            continue
        gate = _stage(record, "gate", by_id)
        ads = _ad_counts(record, by_id)
        # One cause per person (cause_*) where the gate records it; else the flags, which
        # overlap (a minor without consent counts under both).
        causes = _numbers(gate, "cause_") or _numbers(gate, "excluded_")
        per_day.append(
            {
                "day": day.isoformat(),
                "run_id": record["run_id"],
                "customers": gate.get("customers"),
                "may_profile": gate.get("may_profile"),
                "may_email": gate.get("may_email"),
                "may_ad_profile": ads.get("ad_profiles"),
                "exclusions": causes,
                "exclusions_are_one_per_person": bool(_numbers(gate, "cause_")),
                "ad_exclusions": _numbers(ads, "ad_excluded_"),
            }
        )
    totals: dict[str, Counter] = defaultdict(Counter)
    for row in consent_events:
        totals[row["purpose"]]["granted"] += row["granted"]
        totals[row["purpose"]]["withdrawn"] += row["withdrawn"]
        totals[row["purpose"]][f"{row['subject_type']}_granted"] += row["granted"]
        totals[row["purpose"]][f"{row['subject_type']}_withdrawn"] += row["withdrawn"]
    choices = {
        purpose: {
            name: totals[purpose].get(name, 0)
            for name in (
                "granted",
                "withdrawn",
                "customer_granted",
                "customer_withdrawn",
                "cookie_granted",
                "cookie_withdrawn",
            )
        }
        for purpose in sorted(set(policy.purposes) | set(totals))
    }
    return {"days": per_day, "choices_by_purpose": choices, "choices_by_day": consent_events}


# --- 5. what was shared -------------------------------------------------------------------------


def _manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return {"unreadable": True}


def _shared(layout: Layout, days, day_runs, by_id) -> dict:
    """Per day: the email feed (as published, and its manifest now: a purge rewrites a held feed
    without the people who may no longer get it), the ad-server export, access exports."""
    ad_root = layout.home / "exports" / "ad_segments"
    per_day = []
    for day in days:
        record = day_runs.get(day.isoformat())
        publish = _stage(record, "publish", by_id) if record else {}
        manifest = _manifest(layout.email_feed / f"dt={day}")
        feed = None
        if manifest is not None or publish.get("feed_rows") is not None:
            feed = {
                "recipients_at_publication": publish.get("feed_recipients"),
                "rows_at_publication": publish.get("feed_rows"),
                "removals_at_publication": publish.get("feed_removals"),
                "feed_run_id": publish.get("feed_run_id"),
                "held": manifest is not None,
                "manifest": _manifest_facts(manifest),
            }
        ad_manifest = _manifest(ad_root / f"dt={day}")
        ad_export = None
        if ad_manifest is not None or publish.get("ad_export_rows") is not None:
            ad_export = {
                "memberships_at_publication": publish.get("ad_export_rows"),
                "segments_at_publication": publish.get("ad_export_segments"),
                "held": ad_manifest is not None,
                "manifest": _manifest_facts(ad_manifest),
            }
        access = _stage(record, "subject_access", by_id) if record else {}
        per_day.append(
            {
                "day": day.isoformat(),
                "run_id": record["run_id"] if record else None,
                "email_feed": feed,
                "ad_segments": ad_export,
                "subject_access_exports": access.get("access_exports"),
            }
        )
    held = layout.home / "exports" / "subject_access"
    return {
        "days": per_day,
        "subject_access_exports_held": len(list(held.glob("*.json"))) if held.is_dir() else 0,
    }


MANIFEST_FACTS = ("logical_date", "run_id", "revision", "rows", "recipients")


def _manifest_facts(manifest: dict | None) -> dict | None:
    """What a manifest says of the files that left (counts, hashes, the run): never anything
    else it may hold. Read defensively: the feed's and the ad export's manifests differ."""
    if manifest is None:
        return None
    facts: dict = {}
    for name in MANIFEST_FACTS:
        value = manifest.get(name)
        if isinstance(value, int | str) and not isinstance(value, bool):
            facts[name] = value
        elif isinstance(value, dict):  # per file
            facts[name] = {k: v for k, v in sorted(value.items()) if isinstance(v, int)}
    hashes: dict[str, str] = {}
    sha = manifest.get("sha256")
    if isinstance(sha, str):
        hashes[str(manifest.get("file") or "data")] = sha
    elif isinstance(sha, dict):
        hashes.update({str(k): v for k, v in sha.items() if isinstance(v, str)})
    for key, value in manifest.items():  # a described file: {"file": ..., "sha256": ...}
        if isinstance(value, dict) and isinstance(value.get("sha256"), str):
            hashes[str(value.get("file") or key)] = value["sha256"]
            if isinstance(value.get("rows"), int):
                facts[f"{key}_rows"] = value["rows"]
    facts["sha256"] = dict(sorted(hashes.items()))
    if manifest.get("unreadable"):
        facts["unreadable"] = True
    return facts


# --- 6. data quality and incidents ------------------------------------------------------------


def _quality(days, in_period, day_runs, ingest, quarantine) -> dict:
    incidents = [
        {
            "run_id": r["run_id"],
            "logical_date": r["logical_date"],
            "status": r.get("status"),
            "error": r.get("error"),
        }
        for r in in_period
        if r.get("status") in ("failed", "abandoned", "running")
    ]
    warnings, critical = [], []
    for record in in_period:
        validate = record.get("stages", {}).get("validate", {})
        if validate.get("warnings"):
            warnings.append(
                {
                    "run_id": record["run_id"],
                    "logical_date": record["logical_date"],
                    "warnings": list(validate["warnings"]),
                }
            )
        if validate.get("failed_critical"):
            critical.append(
                {
                    "run_id": record["run_id"],
                    "logical_date": record["logical_date"],
                    "failures": list(validate.get("critical_failures") or []),
                }
            )
    published = {day for day, record in day_runs.items() if _published_warehouse(record)}
    return {
        "ingest_by_source": ingest,
        "quarantined_by_reason": quarantine,
        "runs_failed_or_abandoned": incidents,
        "critical_failures": critical,
        "warnings": warnings,
        # A night without a published run: a later run reads every partition up to its date.
        "nights_not_published": [d.isoformat() for d in days if d.isoformat() not in published],
    }


# --- 7. integrity -------------------------------------------------------------------------------


def _integrity(in_period, requests, purge_reports, start, end, policy_file) -> dict:
    used = {r["run_id"] for r in in_period}
    used |= {e["run_id"] for e in requests["listed"] if e["run_id"]}
    reports = [
        {"name": path.name, "sha256": sha256_of(path)}
        for day, path in purge_reports
        if start <= day <= end
        or any(
            (e.get("erasure") or {}).get("purge_report") == path.name for e in requests["listed"]
        )
    ]
    packaged = policy_file.resolve() == DEFAULT_POLICY_PATH.resolve()
    return {
        "runs": sorted(used),
        "run_records_in_period": len(in_period),
        "purge_reports": reports,
        "policy": {
            "file": "kalido/policy.yaml (packaged)"
            if packaged
            else f"KALIDO_POLICY ({policy_file.name})",
            "sha256": sha256_of(policy_file),
        },
        "stores_read": [
            "restricted/raw.duckdb",
            "restricted/raw_browsing/",
            "restricted/archive/legal_archive.duckdb",
            "restricted/logs/ (file times only)",
            "landing/ (which ledgered files are present)",
            "runs/",
            "reports/purge/",
            "exports/email_recommendations/ (manifests)",
            "exports/ad_segments/ (manifests)",
            "exports/subject_access/ (generation dates, count)",
            "quality/, evaluation/ (file times)",
        ],
    }


def _findings(facts: dict) -> dict:
    """What the DPO must look at first, as counts (the sections hold the detail)."""
    listed = facts["requests"]["listed"]
    rules = facts["retention"]["rules"]
    quality = facts["quality"]
    return {
        "requests_failed_overdue_or_late": sum(
            1 for e in listed if e["state"] in ("failed", "overdue", "late")
        ),
        # Retention is judged as of the period's end: a purge older than that leaves the days
        # after it unpurged, which the overdue rules then show.
        "retention_as_of": facts["retention"]["as_of"],
        "last_purge": facts["retention"]["last_purge"],
        "retention_rules_overdue": [
            f"{r['store']}/{r['clock']}" for r in rules if r["status"] == "overdue"
        ],
        "retention_rules_not_measured": [
            f"{r['store']}/{r['clock']}" for r in rules if r["status"] == "not measured"
        ],
        "runs_failed_or_abandoned": len(quality["runs_failed_or_abandoned"]),
        "critical_failures": len(quality["critical_failures"]),
        "warnings": sum(len(w["warnings"]) for w in quality["warnings"]),
        "nights_not_published": len(quality["nights_not_published"]),
        "stores_missing_from_record": facts["record_of_processing"]["unaccounted_stores"],
    }
