"""similarity: once over every shard, the nightly self-check and learned weights, similar
products, popularity and trends (the recommendations' fallbacks) and feat_audience_daily."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import date

import numpy as np
import pyarrow as pa

from kalido.config import Settings
from kalido.db import connect, run_sql
from kalido.features import recommender
from kalido.features.holdout import FIGURES, Holdout, holdout_quality
from kalido.features.params import event_params, interactions, rec_params
from kalido.policy import LEARNABLE_WEIGHTS, Policy
from kalido.stores import feature_tables
from kalido.stores import learned as learned_store
from kalido.stores.shards import COUNT_TABLE, attach_shards, remove_other_counts, union_views
from kalido.stores.staged import open_staged_browsing
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

# Global: the similarity needs every user's co-views; audience_daily is an aggregate.
SQL_AFTER = ("audience_daily",)


GLOBAL_TABLES = ("product_similarity", "audience_daily")


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
        catalogue = feature_tables.catalogue(con)
        n_items = len(catalogue.in_stock)
        n_users = con.execute("select count(*) from rec_users").fetchone()[0]
        run_sql(con, "features/recommender_events", {"cutoff": cutoff, **event_params(policy)})
        events = interactions(
            con.execute("select * from rec_events").fetchnumpy(), n_users, n_items
        )
        started = time.perf_counter()
        # Tonight's weights first (learned on the split that ends a week ago, or kept from the
        # night that learned them in this period), so the similarity and the trends the shards
        # read are built with them.
        every = policy.profiling.learn_every_days
        kept = learned_store.stored(layout, logical_date, every)
        params, quality = holdout_quality(
            events,
            catalogue,
            params if kept is None else replace(params, **kept["values"]),
            Holdout(
                days=float(policy.profiling.quality_holdout_days),
                sample_users=policy.profiling.quality_sample_users,
                seed=logical_date.toordinal(),
            ),
            learned=policy.profiling.learned_weights if kept is None else (),
        )
        learned = quality.pop("quality_learned")
        if kept is None:
            values = {name: getattr(params, name) for name in policy.profiling.learned_weights}
            learned_store.store(layout, logical_date, every, values, learned)
        else:
            learned = kept["evidence"]
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
        run_sql(con, "similarity/similarity_outputs")
        for name in ("sim_codes", "popularity_codes", "weight_codes"):
            con.unregister(name)
        open_staged_browsing(con, layout, logical_date, cutoff)
        for feature in SQL_AFTER:
            run_sql(con, f"similarity/{feature}", {"timezone": policy.business_timezone})
        con.execute(f"create or replace table {COUNT_TABLE} as select $n as shards", {"n": shards})
        counts = feature_tables.counts(con, GLOBAL_TABLES)
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
