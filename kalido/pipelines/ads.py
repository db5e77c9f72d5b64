"""Ads: pseudonymous advertising profiles and segments (issue 27), and the ad server's export.

Once per run, over every shard (a cookie is decided over everyone's events), after `recommend`
and before `subject_access` (access exports show the person's ad profile), `validate` and
`publish` (warehouse tables ad_profiles and ad_segments, exports/ad_segments/dt=D/):

- gate: a cookie whose latest ad_profiling choice is a grant, within the first_ad_grant period of
  the policy's retention rules (13 months from its first grant, not renewed by visits), never
  one logged in as a minor, and none whose customer objected to ad profiling, restricted,
  erased or withdrew ad_profiling in the account (sql/ads/gate_ad_cookies.sql);
- profile: the cookie's browsing while it was granted, through the personalisation interests'
  own query (sql/ads/ad_signals.sql, features/interests.sql), demographics only for a cookie of
  one adult customer who granted ad_profiling too, keyed by the ad pseudonym;
- segments: the rules of kalido/ad_segments.yaml; exact sizes; a segment under the policy's
  segment_min_size is neither published nor exported (sql/ads/ad_profiles.sql).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from kalido.ad_segments import as_table
from kalido.config import Settings
from kalido.db import IDENTIFIER, connect, run_sql
from kalido.email_feed import MANIFEST, complete_feeds, refresh_latest
from kalido.features import interest_params
from kalido.pipelines import runs
from kalido.pipelines.pseudonymise import open_staged_browsing
from kalido.policy import Period, Policy
from kalido.pseudonyms import ad_key, ad_pseudonyms
from kalido.shards import attach_work
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

# The profiles' lifetime is the retention rule that deletes the cookie's data (purge checks that
# raw_consents has the same), so a profile never outlives what it was built from.
LIFETIME_RULE = ("raw_browsing", "first_ad_grant")
EXPORT_FILES = {
    "memberships.csv": ("ad_export_memberships", ("ad_pid", "segment_id"), "ad_pid, segment_id"),
    "segments.csv": ("ad_export_segments", ("segment_id", "name", "size"), "segment_id"),
}


def lifetime(policy: Policy) -> Period:
    """How long after its first ad_profiling grant a cookie may be profiled."""
    store, clock = LIFETIME_RULE
    return policy.store(store).period(clock)


def ads(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Build gate_ad_cookies, feat_ad_profiles, feat_ad_segments and feat_ad_memberships in the
    work database; returns their counts."""
    layout = settings.layout
    timezone = policy.business_timezone
    cutoff = day_end_utc(logical_date, timezone)
    period = lifetime(policy)
    ad = policy.ad_profiling
    with connect(layout.work_db, timezone=timezone) as con:
        open_staged_browsing(con, layout, logical_date, cutoff)
        run_sql(
            con,
            "ads/gate_ad_cookies",
            {
                "ad_purpose": ad.purpose,
                "timezone": timezone,
                "logical_date": logical_date,
                "lifetime_years": period.years,
                "lifetime_months": period.months,
                "lifetime_days": period.days,
            },
        )
        work = con.execute("select current_database()").fetchone()[0]
        if not IDENTIFIER.match(work):
            raise ValueError("the work database must have a plain name")
        con.execute("attach ':memory:' as ad_signals")
        run_sql(con, "ads/ad_signals", {"max_views": policy.profiling.max_recent_views_per_user})
        # The interests' query reads unqualified names: run it inside the scratch catalog.
        con.execute("use ad_signals")
        run_sql(
            con,
            "features/interests",
            interest_params(policy, cutoff),
            identifiers={"table": "feat_ad_interests", "dimension": "category_path"},
        )
        con.execute(f"use {work}")
        cookies = con.execute(
            "select cookie_pid from gate_ad_cookies where may_profile order by cookie_pid"
        ).fetchall()
        cookie_pids = [row[0] for row in cookies]
        pid_map = pa.table(
            {
                "cookie_pid": pa.array(cookie_pids, pa.string()),
                "ad_pid": pa.array(ad_pseudonyms(ad_key(settings.key), cookie_pids), pa.string()),
            }
        )
        con.register("ad_pid_map", pid_map)
        con.register("ad_segment_rules", as_table(ad.segments))
        run_sql(
            con,
            "ads/ad_profiles",
            {
                "interests_per_profile": ad.interests_per_profile,
                "segment_min_size": ad.segment_min_size,
            },
        )
        con.unregister("ad_pid_map")
        con.unregister("ad_segment_rules")
        con.execute("detach ad_signals")
        cursor = run_sql(con, "ads/ad_counts")
        names = [column[0] for column in cursor.description]
        counts = dict(zip(names, cursor.fetchone(), strict=True))
    counts["ad_segment_min_size"] = ad.segment_min_size
    log.info("ad profiles: %s", counts)
    return counts


def export_dir(settings: Settings, logical_date: date) -> Path:
    """The ad server's export directory of a logical date."""
    return settings.layout.ad_export / f"dt={logical_date.isoformat()}"


def stage_export(settings: Settings, logical_date: date, run_id: str, staging: Path) -> dict:
    """Write the ad server's export into the hidden directory `staging` (publish swaps it in
    like the email feed): memberships.csv, segments.csv and manifest.json; its counts."""
    layout = settings.layout
    staging.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    rows, digests, columns = {}, {}, {}
    with connect(spill_dir=layout.spill) as con:
        attach_work(con, layout)
        run_sql(con, "ads/export_rows")
        for name, (table, names, order) in EXPORT_FILES.items():
            path = staging / name
            # Table and columns from the fixed list above, never from data.
            con.execute(
                f"copy (select {', '.join(names)} from {table} order by {order})"
                " to $p (format csv, header true)",
                {"p": str(path)},
            )
            rows[name] = con.execute(f"select count(*) from {table}").fetchone()[0]
            digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
            columns[name] = list(names)
    manifest = {
        "logical_date": logical_date.isoformat(),
        "generated_at": runs.now_utc(),
        # The run whose warehouse (ad_profiles, ad_segments) matches this export.
        "run_id": run_id,
        "rows": rows,
        "columns": columns,
        "sha256": digests,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return {
        "ad_export_rows": rows["memberships.csv"],
        "ad_export_segments": rows["segments.csv"],
    }


def retire_superseded(root: Path, until: date) -> int:
    """Remove every complete export older than the newest one dated `until` or earlier (the
    policy's ad_segment_exports rule: gone once superseded), and keep LATEST right; how many."""
    dated = {p.name.removeprefix("dt="): p for p in complete_feeds(root)}
    current = [day for day in dated if day <= until.isoformat()]
    removed = 0
    for day, path in sorted(dated.items()):
        if current and day < max(current):
            shutil.rmtree(path)
            removed += 1
    if root.is_dir():
        refresh_latest(root)
    return removed


def superseded_until(policy: Policy, logical_date: date) -> date:
    """The date up to which a newer export supersedes the older ones (ad_segment_exports)."""
    keep = policy.store("ad_segment_exports").period("superseded")
    return keep.before(datetime.combine(logical_date, datetime.min.time())).date()


def open_checks(con, settings: Settings, policy: Policy, logical_date: date) -> None:
    """For the validate stage, on its connection (the work database attached as `work`): each
    profile's cookie re-derived from staging (ad_cookie_checks) and the export rows publish will
    write (the same statement), read by the ad suites."""
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    open_staged_browsing(con, settings.layout, logical_date, cutoff)
    period = lifetime(policy)
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
