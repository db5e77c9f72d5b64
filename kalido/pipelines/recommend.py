"""recommend: per shard, each person's recommendations from the global similarity and trends."""

from __future__ import annotations

import logging
import time
from datetime import date

import numpy as np
import pyarrow as pa

from kalido.config import Settings
from kalido.db import run_sql
from kalido.features import recommender
from kalido.features.params import rec_params
from kalido.policy import Policy
from kalido.stores import feature_tables
from kalido.stores.shards import ONE_SHARD, Shard, open_shard
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)

# Recommendation rows named and written per slice: DuckDB's memory then stays small beside the
# recommender's arrays whatever the number of users (an L day is 20M rows).
OUTPUT_SLICE_ROWS = 2_000_000


def recommend(
    settings: Settings, policy: Policy, logical_date: date, run_id: str, shard: Shard = ONE_SHARD
) -> dict:
    """feat_recommendations of one shard's users, from the global similarity and popularity."""
    cutoff = day_end_utc(logical_date, policy.business_timezone)
    with open_shard(settings.layout, shard, policy.business_timezone) as con:
        params = feature_tables.learned_params(con, rec_params(policy.profiling))
        run_sql(con, "features/recommender_codes")
        catalogue = feature_tables.catalogue(con)
        n_items = len(catalogue.in_stock)
        history = feature_tables.history(con, n_items, cutoff, policy)
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
        run_sql(con, "recommend/recommendations_named")
        for start in range(0, rec_codes.num_rows, OUTPUT_SLICE_ROWS):
            con.register("rec_codes", rec_codes.slice(start, OUTPUT_SLICE_ROWS))
            run_sql(con, "recommend/recommendations_append")
        con.unregister("rec_codes")
        counts = feature_tables.counts(con, ("recommendations",))
    # The fallback share (Data Docs overview): slots that rest on no product of the person's own.
    counts["recommendations_popular_in"] = int(np.count_nonzero(recs.reason_item < 0))
    log.info("recommendations of shard %s: %s (%.2f s)", shard.label, counts, seconds)
    return {**counts, "recommender_seconds": round(seconds, 3)}
