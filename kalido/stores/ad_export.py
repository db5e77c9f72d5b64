"""The ad server's export: exports/ad_segments/dt=D/ (memberships.csv, segments.csv, manifest.json),
staged by publish, retired once superseded."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date, datetime
from pathlib import Path

from kalido.config import Settings
from kalido.db import connect, run_sql
from kalido.policy import Policy
from kalido.stores import runs
from kalido.stores.email_feed import MANIFEST, complete_feeds, refresh_latest
from kalido.stores.shards import attach_work

EXPORT_FILES = {
    "memberships.csv": ("ad_export_memberships", ("ad_pid", "segment_id"), "ad_pid, segment_id"),
    "segments.csv": ("ad_export_segments", ("segment_id", "name", "size"), "segment_id"),
}


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
