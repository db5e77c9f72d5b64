"""Features built from gated inputs only: views window, interests, similarity, recommendations."""

from __future__ import annotations

import logging
from datetime import date

from kalido.config import Settings
from kalido.db import connect, run_sql
from kalido.policy import Policy
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

# Order matters: each feature reads the ones before it.
FEATURES = (
    "views_recent",
    "interest_profiles",
    "product_similarity",
    "recommendations",
    "audience_daily",
)


def build_features(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Build every feat_ table in the work database; returns their row counts."""
    profiling = policy.profiling
    params = {
        "cutoff": day_end_utc(logical_date, policy.business_timezone),
        "timezone": policy.business_timezone,
        "max_views": profiling.max_recent_views_per_user,
        "half_life_days": profiling.interest_half_life_days,
        "min_users": profiling.similarity_min_distinct_users,
        "per_product": profiling.similar_products_per_product,
        "per_user": profiling.recommendations_per_user,
        "exclude_bought_days": profiling.exclude_bought_within_days,
    }
    counts = {}
    with connect(settings.layout.work_db, timezone=policy.business_timezone) as con:
        for feature in FEATURES:
            run_sql(con, f"features/{feature}", params)
            counts[feature] = con.execute(f"select count(*) from feat_{feature}").fetchone()[0]
    log.info("features: %s", counts)
    return counts
