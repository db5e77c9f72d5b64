"""build_features: per shard, the views window and the interest profiles (feat_views_recent,
feat_interest_profiles, feat_interest_brands)."""

from __future__ import annotations

import logging
from datetime import date

from kalido.config import Settings
from kalido.db import run_sql
from kalido.features.params import interest_params
from kalido.policy import Policy
from kalido.stores import feature_tables
from kalido.stores.shards import ONE_SHARD, Shard, open_shard
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

# Per shard (per user): the views window first, the interests read it.
SQL_BEFORE = ("views_recent",)


# Interest tables share one query, over the product attribute each one ranks.
INTERESTS = {"interest_profiles": "category", "interest_brands": "brand"}


TABLES = ("views_recent", "interest_profiles", "interest_brands")


def build_features(
    settings: Settings, policy: Policy, logical_date: date, run_id: str, shard: Shard = ONE_SHARD
) -> dict:
    """The per-user feat_ tables of one shard (views window, interests); returns row counts."""
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    params = {
        **interest_params(policy, cutoff),
        "max_views": policy.profiling.max_recent_views_per_user,
    }
    with open_shard(settings.layout, shard, policy.business_timezone) as con:
        for feature in SQL_BEFORE:
            run_sql(con, f"build_features/{feature}", params)
        for table, dimension in INTERESTS.items():
            run_sql(
                con,
                "features/interests",
                params,
                identifiers={"table": f"feat_{table}", "dimension": dimension},
            )
        counts = feature_tables.counts(con, TABLES)
    log.info("features of shard %s: %s", shard.label, counts)
    return counts
