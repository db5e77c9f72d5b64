"""Validate: Great Expectations suites on this run's inputs and on the outputs about to be
published. A failed critical expectation stops the run before publish."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from kalido import quality
from kalido.config import Settings
from kalido.contract import SOURCES
from kalido.db import attach, bound_statements, connect, run_sql
from kalido.policy import Policy
from kalido.stores import raw_browsing, runs
from kalido.stores.shards import attach_work
from kalido.stores.staged import open_staged_browsing
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

JSON_KEY_SAMPLE = 2000  # lines read per JSON Lines file to learn its keys
PLAIN_NAME = re.compile(r"^[a-z][a-z_]{0,40}$")  # how the contract names columns
MESSAGE_FAILURES = 5
SAMPLE_SEED = 20261125  # fixed: the same batch gives the same sample, run after run


class QualityGateFailed(Exception):
    """A critical expectation failed; the message names it and quotes no personal data."""

    def __init__(self, message: str):
        super().__init__(message)
        self.safe_message = message


def _file_columns(path: Path) -> set[str] | None:
    """The column names a landing file delivered (None when it cannot be read any more)."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return set(pq.read_schema(path).names)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            if ".csv" in name:
                return {column.strip().lower() for column in next(csv.reader(handle), [])}
            keys: set[str] = set()
            for number, line in enumerate(handle):
                if number >= JSON_KEY_SAMPLE:
                    break
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a malformed line is quarantined by ingest, not a schema change
                if isinstance(row, dict):
                    keys.update(row)
            return keys
    except (OSError, ValueError, EOFError, UnicodeDecodeError):
        return None


def _sample(con: duckdb.DuckDBPyConnection, query: str, params: dict | None, max_rows: int):
    """The query's rows as a DataFrame; above max_rows, a uniform sample of max_rows of them:
    the rows with the smallest seeded hash, picked by DuckDB (a top-N, so the rows never leave
    the database whole, and the same batch gives the same sample run after run)."""
    sampled = f"select q.* from ({query}) as q order by hash(q, $sample_seed) limit $sample_rows"
    return con.execute(
        sampled, {**(params or {}), "sample_seed": SAMPLE_SEED, "sample_rows": max_rows}
    ).df()


def _sample_sql(
    con: duckdb.DuckDBPyConnection,
    name: str,
    max_rows: int,
    params: dict | None = None,
    identifiers: dict | None = None,
):
    """_sample of sql/<name>.sql's last statement, after the ones before it. A statement with
    per-user or per-list columns samples whole lists itself ($sample_lists of them, seeded)."""
    params = {**(params or {}), "sample_seed": SAMPLE_SEED, "sample_lists": max_rows}
    *setup, (query, used) = bound_statements(name, params, identifiers)
    for statement, statement_params in setup:
        con.execute(statement, statement_params)
    return _sample(con, query, used, max_rows)


def _quotable(header: set[str], contract: tuple[str, ...]) -> set[str]:
    """Column names safe to quote in results: a file without a header row has data as its
    "names", so unknown names are kept only when shaped like the contract's and the file has
    at least one contract column; the rest become unnamed_column_<n>."""
    known = header & set(contract)
    unknown = sorted(header - known)
    safe = {n for n in unknown if PLAIN_NAME.match(n)} if known else set()
    unnamed = [f"unnamed_column_{i}" for i in range(1, len(unknown) - len(safe) + 1)]
    return known | safe | set(unnamed)


def _landing_batch(con: duckdb.DuckDBPyConnection, landing: Path, source: str, max_rows: int):
    """This batch's raw rows of one source, shaped like the files delivered them: a contract
    column missing from any file is dropped and a column no contract names is added, so that
    `columns_match_contract` sees the drift."""
    spec = SOURCES[source]
    paths = [
        row[0]
        for row in con.execute(
            "select path from batch_files where source = $source and status = 'ingested'",
            {"source": source},
        ).fetchall()
    ]
    if not paths:
        return None  # nothing new from this source: no verdict
    frame = _sample_sql(
        con,
        "validate/landing_rows",
        max_rows,
        {"source": source},
        {
            "columns": ", ".join(spec.columns),
            # Raw browsing is the temp view over its files (raw_browsing.py), the rest raw tables.
            "raw_relation": "raw_browsing" if source == "browsing" else f"raw.{spec.raw_table}",
        },
    )
    headers = [
        _quotable(h, spec.columns)
        for h in (_file_columns(landing / p) for p in paths)
        if h is not None
    ]
    if headers:
        everywhere = set.intersection(*headers)
        extras = sorted(set.union(*headers) - set(spec.columns))
        frame = frame[[c for c in spec.columns if c in everywhere]].assign(**dict.fromkeys(extras))
    return frame


def _parameters(policy: Policy, settings: quality.QualitySettings, logical_date: date) -> dict:
    day_end = day_end_utc(logical_date, policy.business_timezone)
    return {
        "logical_date": datetime.combine(logical_date, datetime.min.time()),
        "until": day_end + timedelta(hours=settings.hours_after),
        "records_since": day_end - timedelta(days=settings.records_days_before),
        "events_since": day_end - timedelta(days=settings.events_days_before),
        "birth_dates_since": datetime(logical_date.year - settings.birth_years_before, 1, 1),
        "purposes": sorted(policy.purposes),
        "pii_patterns": list(settings.pii_patterns.values()),
        "category_path_regex": settings.category_path_regex,
        "min_in_stock_share": settings.min_in_stock_share,
        "max_quarantined_share": settings.max_quarantined_share,
        "volume_min_ratio": 1 / settings.volume_factor,
        "volume_max_ratio": settings.volume_factor,
        "max_recent_views_per_user": policy.profiling.max_recent_views_per_user,
        "recommendations_per_user": policy.profiling.recommendations_per_user,
        "segment_min_size": policy.ad_profiling.segment_min_size,
        # The landing suites' column sets and closed value sets come from the contract.
        **{f"{s.name}_columns": list(s.columns) for s in SOURCES.values()},
        **{
            f"{s.name}_{c.name}_values": list(c.values)
            for s in SOURCES.values()
            for c in s.fields
            if c.values
        },
    }


def _open_ad_checks(con, settings: Settings, policy: Policy, logical_date: date) -> None:
    """For the validate stage, on its connection (the work database attached as `work`): each
    profile's cookie re-derived from staging (ad_cookie_checks) and the export rows publish will
    write (the same statement), read by the ad suites."""
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    open_staged_browsing(con, settings.layout, logical_date, cutoff)
    period = policy.ad_cookie_lifetime()
    run_sql(
        con,
        "validate/ad_cookie_checks",
        {
            "ad_purpose": policy.ad_profiling.purpose,
            "timezone": policy.business_timezone,
            "lifetime_years": period.years,
            "lifetime_months": period.months,
            "lifetime_days": period.days,
        },
    )
    run_sql(con, "ads/export_rows")


def _batches(
    settings: Settings,
    policy: Policy,
    qsettings: quality.QualitySettings,
    logical_date: date,
    run_id: str,
    names: set[str],
) -> dict:
    """Every batch a suite names, as pandas DataFrames (None: nothing to validate this run)."""
    layout = settings.layout
    max_rows = qsettings.max_rows_per_batch
    batches: dict = {}
    with connect(spill_dir=layout.spill) as con:
        attach(con, layout.raw_db, "raw")
        attach_work(con, layout)
        # Advertising suites: cookies re-derived from staging, and the ad export's rows.
        _open_ad_checks(con, settings, policy, logical_date)
        files = run_sql(
            con, "validate/batch_files", {"run_id": run_id, "logical_date": logical_date}
        )
        batches["ingest_files"] = files.df()
        batch_browsing = run_sql(con, "validate/batch_browsing_files").fetchall()
        raw_browsing.open_view(con, layout, only=batch_browsing)
        batches["daily_volume"] = run_sql(
            con,
            "validate/daily_volume",
            {
                "sources": list(qsettings.volume_sources),
                "logical_date": logical_date,
                "baseline_days": qsettings.volume_baseline_days,
                "min_baseline_days": qsettings.volume_min_baseline_days,
            },
        ).df()
        for name in sorted(names):
            layer, _, table = name.partition(":")
            if layer == "landing":
                batches[name] = _landing_batch(con, layout.landing, table, max_rows)
            elif layer == "warehouse":
                if table == "people":  # publish builds it from the gate: the same statement
                    run_sql(con, "tables/people/table", {"timezone": policy.business_timezone})
                batches[name] = _sample_sql(con, f"tables/{table}/batch", max_rows)
            elif layer == "exports":
                # The same statement publish runs, so the rows checked are the rows shipped.
                if table == "email_recommendations":
                    run_sql(con, "publish/email_feed", {"key_version": settings.key_version})
                batches[name] = _sample_sql(
                    con,
                    f"validate/exports_{table}",
                    max_rows,
                    {
                        "key_version": settings.key_version,
                        "feed_purposes": list(policy.email_feed.required_purposes),
                    },
                )
    return batches


def validate(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Run every suite; raise QualityGateFailed (after recording the findings) on a critical
    failure, so that publish never runs on a bad batch or a bad output."""
    started = time.perf_counter()
    layout = settings.layout
    qsettings = quality.load_settings()
    suites = quality.load_suites()
    batches = _batches(settings, policy, qsettings, logical_date, run_id, {s.batch for s in suites})
    checked = [s for s in suites if batches.get(s.batch) is not None]
    report = quality.run_suites(
        checked,
        batches,
        _parameters(policy, qsettings, logical_date),
        qsettings,
        runs.file_stem(run_id),
        layout.home / "quality",
    )
    failures = report.critical_failures
    counts = {
        "suites": len(checked),
        "suites_skipped": len(suites) - len(checked),
        "expectations": len(report.findings),
        "failed_critical": len(failures),
        "warnings": [finding.message() for finding in report.warnings],
        "critical_failures": [finding.message() for finding in failures],
        "results": str(report.results_dir.relative_to(layout.home)),
        "data_docs": str(report.docs_index.relative_to(layout.home)),
    }
    for finding in report.warnings:
        log.warning("quality warning: %s", finding.message())
    if failures:
        # Recorded here because the stage raises and run_stage records only a finished stage.
        runs.record_stage(
            layout, run_id, logical_date, "validate", counts, time.perf_counter() - started
        )
        shown = "; ".join(f.message() for f in failures[:MESSAGE_FAILURES])
        more = len(failures) - MESSAGE_FAILURES
        raise QualityGateFailed(
            f"{len(failures)} critical expectation(s) failed, nothing published: {shown}"
            + (f"; and {more} more" if more > 0 else "")
        )
    return counts
