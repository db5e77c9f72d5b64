"""Gate: keep only what the policy allows as of the logical date (consent, age, requests)."""

from __future__ import annotations

import logging
from datetime import date

from kalido.config import Settings
from kalido.db import run_sql
from kalido.policy import Policy
from kalido.stores.shards import ONE_SHARD, Shard, open_shard
from kalido.stores.staged import open_staged_browsing
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)


def gate(
    settings: Settings, policy: Policy, logical_date: date, run_id: str, shard: Shard = ONE_SHARD
) -> dict:
    """Build gate_* decisions and the gated_* inputs of every feature, for one shard's users."""
    if shard.count > 1:
        # Derived data, rebuilt whole: a fresh file keeps no bytes of an earlier run's rows.
        path = shard.path(settings.layout)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    with open_shard(settings.layout, shard, policy.business_timezone) as con:
        open_staged_browsing(con, settings.layout, logical_date, cutoff)
        run_sql(
            con,
            "gate/build_gates",
            {
                **shard.params,
                "cutoff": cutoff,
                "profiling_purpose": policy.profiling.purpose,
                "feed_purposes": list(policy.email_feed.required_purposes),
                "active_within_years": policy.email_feed.active_within_years,
                "history_years": policy.profiling.history_years,
            },
        )
        cursor = run_sql(con, "gate/gate_counts")
        names = [column[0] for column in cursor.description]
        counts = dict(zip(names, cursor.fetchone(), strict=True))
    log.info("gated shard %s: %s", shard.label, counts)
    return counts
