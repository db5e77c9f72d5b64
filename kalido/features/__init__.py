"""Features built from gated inputs only: views window, interests, similarity, recommendations.

Per shard: build_features (views window, interests), then recommend; once for all shards,
between them: build_similarity (similar products, popularity, audience).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa

from kalido import recommender
from kalido.config import Settings
from kalido.db import connect, run_sql
from kalido.features.holdout import FIGURES, Holdout, holdout_quality
from kalido.pipelines.pseudonymise import open_staged_browsing
from kalido.policy import LEARNABLE_WEIGHTS, Policy, Profiling
from kalido.shards import (
    COUNT_TABLE,
    ONE_SHARD,
    Shard,
    attach_shards,
    open_shard,
    remove_other_counts,
    union_views,
)
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

# Per shard (per user): the views window first, the interests read it.
SQL_BEFORE = ("views_recent",)
# Interest tables share one query, over the product attribute each one ranks.
INTERESTS = {"interest_profiles": "category", "interest_brands": "brand"}
TABLES = ("views_recent", "interest_profiles", "interest_brands")
# Global: the similarity needs every user's co-views; audience_daily is an aggregate.
SQL_AFTER = ("audience_daily",)
GLOBAL_TABLES = ("product_similarity", "audience_daily")
# Recommendation rows named and written per slice: DuckDB's memory then stays small beside the
# recommender's arrays whatever the number of users (an L day is 20M rows).
OUTPUT_SLICE_ROWS = 2_000_000
# The weights the self-check records beside its figures (recommendation_quality.weights).
RECORDED_WEIGHTS = (
    "view_weight",
    "cart_weight",
    "order_weight",
    "repeat_weight",
    "profile_weight",
    "half_life_days",
    "exclude_viewed_days",
    "trend_weight",
    "trend_half_life_days",
)
# What the similarity reads from every shard.
SIMILARITY_INPUTS = ("gate_customers", "gated_events", "gated_orders", "feat_views_recent")


def rec_params(profiling: Profiling) -> recommender.RecParams:
    """The recommender's parameters from the policy."""
    tuning = profiling.recommender
    return recommender.RecParams(
        min_users=profiling.similarity_min_distinct_users,
        per_product=profiling.similar_products_per_product,
        per_user=profiling.recommendations_per_user,
        half_life_days=float(profiling.interest_half_life_days),
        exclude_bought_days=float(profiling.exclude_bought_within_days),
        exclude_viewed_days=float(profiling.exclude_viewed_within_days),
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


def _catalogue(con: duckdb.DuckDBPyConnection) -> recommender.Catalogue:
    items = con.execute(
        "select c.category_code, i.in_stock from rec_items as i "
        "inner join rec_categories as c on c.category = i.category order by i.item"
    ).fetchnumpy()
    n_categories = con.execute("select count(*) from rec_categories").fetchone()[0]
    return recommender.Catalogue(
        category=items["category_code"].astype("int32"),
        in_stock=items["in_stock"].astype(bool),
        n_categories=max(n_categories, 1),
    )


def order_filter(policy: Policy) -> dict:
    """The SQL parameter naming the order lines no feature counts (one list, from the policy)."""
    return {"ignored_statuses": list(policy.profiling.ignored_order_statuses)}


def interest_params(policy: Policy, cutoff) -> dict:
    """What features/interests.sql reads: the recommender's event weights, one half-life and the
    order filter, so personalisation and advertising interests weigh events alike."""
    tuning = policy.profiling.recommender
    return {
        "cutoff": cutoff,
        "half_life_days": policy.profiling.interest_half_life_days,
        "view_weight": tuning.view_weight,
        "cart_weight": tuning.cart_weight,
        "order_weight": tuning.order_weight,
        **order_filter(policy),
    }


def _history(
    con: duckdb.DuckDBPyConnection, n_items: int, cutoff, policy: Policy
) -> recommender.Interactions:
    run_sql(con, "features/recommender_history", {"cutoff": cutoff, **order_filter(policy)})
    n_users = con.execute("select count(*) from rec_users").fetchone()[0]
    columns = con.execute("select * from rec_history").fetchnumpy()
    return _interactions(columns, n_users, n_items, group=columns["user_code"])


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
            run_sql(con, f"features/{feature}", params)
        for table, dimension in INTERESTS.items():
            run_sql(
                con,
                "features/interests",
                params,
                identifiers={"table": f"feat_{table}", "dimension": dimension},
            )
        counts = _counts(con, TABLES)
    log.info("features of shard %s: %s", shard.label, counts)
    return counts


def _counts(con: duckdb.DuckDBPyConnection, tables) -> dict:
    return {t: con.execute(f"select count(*) from feat_{t}").fetchone()[0] for t in tables}


def build_similarity(
    settings: Settings, policy: Policy, logical_date: date, run_id: str, shards: int = 1
) -> dict:
    """Once over every shard: feat_product_similarity, the products' popularity (the
    recommendations' fallbacks) and feat_audience_daily, in the work database."""
    layout = settings.layout
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    params = rec_params(policy.profiling)
    with connect(layout.work_db, timezone=policy.business_timezone) as con:
        if shards > 1:
            union_views(con, attach_shards(con, layout, shards), None, SIMILARITY_INPUTS)
        run_sql(con, "features/recommender_codes")
        catalogue = _catalogue(con)
        n_items = len(catalogue.in_stock)
        n_users = con.execute("select count(*) from rec_users").fetchone()[0]
        run_sql(con, "features/recommender_events", {"cutoff": cutoff, **order_filter(policy)})
        events = _interactions(
            con.execute("select * from rec_events").fetchnumpy(), n_users, n_items
        )
        started = time.perf_counter()
        # Tonight's weights are learned first (on the split that ends a week ago), so the
        # similarity and the trends the shards read are built with them.
        params, quality = holdout_quality(
            events,
            catalogue,
            params,
            Holdout(
                days=float(policy.profiling.quality_holdout_days),
                sample_users=policy.profiling.quality_sample_users,
                seed=logical_date.toordinal(),
            ),
            learned=policy.profiling.learned_weights,
        )
        learned = quality.pop("quality_learned")
        quality_seconds = time.perf_counter() - started
        started = time.perf_counter()
        sim = recommender.similarity(events, catalogue, params)
        seconds = time.perf_counter() - started
        quality_row = pa.Table.from_pylist(  # noqa: F841 - read by DuckDB below
            [quality],
            schema=pa.schema(
                [("quality_users", pa.int64()), *((name, pa.float64()) for name in FIGURES)]
            ),
        )
        con.execute(
            "create or replace table feat_recommendation_quality as"
            " select cast($d as date) as logical_date, * from quality_row",
            {"d": logical_date},
        )
        src, dst, score, rank = sim.rows()
        sim_codes = pa.table({"src": src, "dst": dst, "score": score, "rank": rank})
        popularity_codes = pa.table(
            {"item": np.arange(n_items), "popularity": sim.popularity, "trend": sim.trend}
        )
        weight_codes = pa.table(
            {
                "name": list(LEARNABLE_WEIGHTS),
                "value": [float(getattr(params, name)) for name in LEARNABLE_WEIGHTS],
            }
        )
        con.register("sim_codes", sim_codes)
        con.register("popularity_codes", popularity_codes)
        con.register("weight_codes", weight_codes)
        run_sql(con, "features/similarity_outputs")
        for name in ("sim_codes", "popularity_codes", "weight_codes"):
            con.unregister(name)
        open_staged_browsing(con, layout, logical_date, cutoff)
        for feature in SQL_AFTER:
            run_sql(con, f"features/{feature}", {"timezone": policy.business_timezone})
        con.execute(f"create or replace table {COUNT_TABLE} as select $n as shards", {"n": shards})
        counts = _counts(con, GLOBAL_TABLES)
    remove_other_counts(layout, shards)
    log.info(
        "similarity over %d shard(s): %s (recommender %.2f s, self-check and learning %.2f s)",
        shards,
        counts,
        seconds,
        quality_seconds,
    )
    # The weights used tonight, and for each learned one its prior and the evidence.
    weights = {name: getattr(params, name) for name in RECORDED_WEIGHTS} | {"learned": learned}
    return {
        **counts,
        **quality,
        "quality_weights": json.dumps(weights, sort_keys=True),
        "similarity_seconds": round(seconds, 3),
        "quality_seconds": round(quality_seconds, 3),
    }


def learned_params(con: duckdb.DuckDBPyConnection, params: recommender.RecParams):
    """`params` with tonight's learned weights (rec_weights, written by build_similarity)."""
    rows = con.execute("select name, value from rec_weights").fetchall()
    return replace(params, **{name: value for name, value in rows if name in LEARNABLE_WEIGHTS})


def recommend(
    settings: Settings, policy: Policy, logical_date: date, run_id: str, shard: Shard = ONE_SHARD
) -> dict:
    """feat_recommendations of one shard's users, from the global similarity and popularity."""
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    with open_shard(settings.layout, shard, policy.business_timezone) as con:
        params = learned_params(con, rec_params(policy.profiling))
        run_sql(con, "features/recommender_codes")
        catalogue = _catalogue(con)
        n_items = len(catalogue.in_stock)
        history = _history(con, n_items, cutoff, policy)
        rows = con.execute("select src, dst, score from rec_similarity order by src, rank")
        rows = rows.fetchnumpy()
        popularity = con.execute("select popularity, trend from rec_popularity order by item")
        popularity = popularity.fetchnumpy()
        sim = recommender.Similarity(
            indptr=np.r_[0, np.cumsum(np.bincount(rows["src"], minlength=n_items))].astype(
                np.int64
            ),
            indices=rows["dst"].astype(np.int32),
            scores=rows["score"].astype(np.float64),
            popularity=popularity["popularity"].astype(np.float64),
            trend=popularity["trend"].astype(np.float64),
        )
        started = time.perf_counter()
        recs = recommender.recommend(history, catalogue, sim, params)
        seconds = time.perf_counter() - started
        # Freed before DuckDB writes the output: at L the history alone is ~0.7 GB.
        del history, sim, rows, popularity
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
        con.register("rec_codes", rec_codes.slice(0, 0))
        run_sql(con, "features/recommendations_named")
        for start in range(0, rec_codes.num_rows, OUTPUT_SLICE_ROWS):
            con.register("rec_codes", rec_codes.slice(start, OUTPUT_SLICE_ROWS))
            run_sql(con, "features/recommendations_append")
        con.unregister("rec_codes")
        counts = _counts(con, ("recommendations",))
    # The fallback share (Data Docs overview): slots that rest on no product of the person's own.
    counts["recommendations_popular_in"] = int(np.count_nonzero(recs.reason_item < 0))
    log.info("recommendations of shard %s: %s (%.2f s)", shard.label, counts, seconds)
    return {**counts, "recommender_seconds": round(seconds, 3)}


def build_unsharded(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Every feature in one shard (evaluation harness): build_features, similarity, recommend."""
    return {
        **build_features(settings, policy, logical_date, run_id),
        **build_similarity(settings, policy, logical_date, run_id),
        **recommend(settings, policy, logical_date, run_id),
    }
