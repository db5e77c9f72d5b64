"""Features built from gated inputs only: views window, interests, similarity, recommendations."""

from __future__ import annotations

import logging
import time
from datetime import date

import duckdb
import pyarrow as pa

from kalido import recommender
from kalido.config import Settings
from kalido.db import connect, run_sql
from kalido.policy import Policy, Profiling
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

# Order matters: each feature reads the ones before it. The recommender step builds
# feat_product_similarity and feat_recommendations.
SQL_BEFORE = ("views_recent",)
# Interest tables share one query, over the product attribute each one ranks.
INTERESTS = {"interest_profiles": "category", "interest_brands": "brand"}
SQL_AFTER = ("audience_daily",)
TABLES = (
    "views_recent",
    "interest_profiles",
    "interest_brands",
    "product_similarity",
    "recommendations",
    "audience_daily",
)


def rec_params(profiling: Profiling) -> recommender.RecParams:
    """The recommender's parameters from the policy."""
    tuning = profiling.recommender
    return recommender.RecParams(
        min_users=profiling.similarity_min_distinct_users,
        per_product=profiling.similar_products_per_product,
        per_user=profiling.recommendations_per_user,
        half_life_days=float(profiling.interest_half_life_days),
        exclude_bought_days=float(profiling.exclude_bought_within_days),
        **{name: getattr(tuning, name) for name in tuning.__dataclass_fields__},
    )


def _interactions(
    columns: dict, n_users: int, n_items: int, group=None
) -> recommender.Interactions:
    return recommender.Interactions(
        user=columns["user_code"].astype("int32"),
        item=columns["item"].astype("int32"),
        age_days=columns["age_days"].astype("float64"),
        kind=columns["kind"].astype("int8"),
        group=columns["grp"].astype("int64") if group is None else group,
        n_users=n_users,
        n_items=n_items,
    )


def build_recommender_tables(con: duckdb.DuckDBPyConnection, profiling: Profiling, cutoff) -> float:
    """feat_product_similarity and feat_recommendations; returns the recommender's seconds."""
    run_sql(con, "features/recommender_inputs", {"cutoff": cutoff})
    items = con.execute(
        "select c.category_code, i.in_stock from rec_items as i "
        "inner join rec_categories as c on c.category = i.category order by i.item"
    ).fetchnumpy()
    n_items = len(items["in_stock"])
    n_users = con.execute("select count(*) from rec_users").fetchone()[0]
    n_categories = con.execute("select count(*) from rec_categories").fetchone()[0]
    catalogue = recommender.Catalogue(
        category=items["category_code"].astype("int32"),
        in_stock=items["in_stock"].astype(bool),
        n_categories=max(n_categories, 1),
    )
    events = _interactions(con.execute("select * from rec_events").fetchnumpy(), n_users, n_items)
    history_cols = con.execute("select * from rec_history").fetchnumpy()
    history = _interactions(history_cols, n_users, n_items, group=history_cols["user_code"])
    params = rec_params(profiling)
    started = time.perf_counter()
    sim = recommender.similarity(events, catalogue, params)
    recs = recommender.recommend(history, catalogue, sim, params)
    seconds = time.perf_counter() - started
    src, dst, score, rank = sim.rows()
    sim_codes = pa.table({"src": src, "dst": dst, "score": score, "rank": rank})
    rec_codes = pa.table(
        {
            "user_code": recs.user,
            "item": recs.item,
            "score": recs.score,
            "rank": recs.rank,
            "reason_item": recs.reason_item,
            "reason_category": recs.reason_category,
        }
    )
    con.register("sim_codes", sim_codes)
    con.register("rec_codes", rec_codes)
    run_sql(con, "features/recommender_outputs")
    con.unregister("sim_codes")
    con.unregister("rec_codes")
    return seconds


def build_features(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Build every feat_ table in the work database; returns their row counts."""
    profiling = policy.profiling
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    params = {
        "cutoff": cutoff,
        "timezone": policy.business_timezone,
        "max_views": profiling.max_recent_views_per_user,
        "half_life_days": profiling.interest_half_life_days,
    }
    counts = {}
    with connect(settings.layout.work_db, timezone=policy.business_timezone) as con:
        for feature in SQL_BEFORE:
            run_sql(con, f"features/{feature}", params)
        for table, dimension in INTERESTS.items():
            run_sql(
                con,
                "features/interests",
                params,
                identifiers={"table": f"feat_{table}", "dimension": dimension},
            )
        recommender_seconds = build_recommender_tables(con, profiling, cutoff)
        for feature in SQL_AFTER:
            run_sql(con, f"features/{feature}", params)
        for table in TABLES:
            counts[table] = con.execute(f"select count(*) from feat_{table}").fetchone()[0]
    log.info("features: %s (recommender %.2f s)", counts, recommender_seconds)
    return counts
