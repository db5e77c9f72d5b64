"""`make bench-recs`: the recommender vs implicit's ItemItemRecommender on one synthetic matrix.

The matrix (default 1M users × 100k products × 10M interactions) is generated with numpy from a
fixed seed: power-law product popularity and user activity, sessions of a few related products.
kalido_self_check times the rest of the nightly similarity stage on the same log: the held-back
week's self-check with the weights learned on it. Each method runs in its own subprocess so that
its peak RSS (ru_maxrss) is its own; the RSS after generating the data is reported too, so the
method's share is visible.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from kalido.features import recommender
from kalido.features.holdout import Holdout, holdout_quality
from kalido.features.params import rec_params
from kalido.policy import load_policy

SEED = 20261124


def synthetic(n_users: int, n_items: int, n_events: int, seed: int = SEED):
    """(Interactions sorted by session, catalogue) with power-law popularity and activity."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.geometric(0.25, size=n_events // 3), 40)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), n_events) + 1]
    lengths[-1] -= lengths.sum() - n_events
    lengths = lengths[lengths > 0]
    n_sessions = len(lengths)
    session = np.repeat(np.arange(n_sessions, dtype=np.int64), lengths)
    user_cdf = np.cumsum(1.0 / np.arange(1, n_users + 1) ** 0.8)
    item_cdf = np.cumsum(1.0 / np.arange(1, n_items + 1) ** 1.05)
    session_user = np.searchsorted(user_cdf, rng.random(n_sessions) * user_cdf[-1])
    scrambled_users = rng.permutation(n_users)
    start = np.searchsorted(item_cdf, rng.random(n_sessions) * item_cdf[-1])
    # Within a session, products drift among neighbours of the first one (related products),
    # with an occasional jump to a popular product.
    step = rng.integers(-20, 21, size=n_events)
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    step[first] = 0
    drift = np.cumsum(step) - np.repeat(np.cumsum(step)[first], lengths)
    item = (start[session] + drift) % n_items
    jump = rng.random(n_events) < 0.2
    item[jump] = np.searchsorted(item_cdf, rng.random(int(jump.sum())) * item_cdf[-1])
    session_age = rng.random(n_sessions) * 90.0
    age = session_age[session] - (np.arange(n_events) - np.repeat(first, lengths)) / 1440.0
    kind = np.where(rng.random(n_events) < 0.9, recommender.VIEW, recommender.CART)
    kind[rng.random(n_events) < 0.03] = recommender.ORDER
    events = recommender.Interactions(
        user=scrambled_users[session_user][session].astype(np.int32),
        item=item.astype(np.int32),
        age_days=np.maximum(age, 0.0),
        kind=kind.astype(np.int8),
        group=session,
        n_users=n_users,
        n_items=n_items,
    )
    catalogue = recommender.Catalogue(
        category=(np.arange(n_items) // 500).astype(np.int32),
        in_stock=rng.random(n_items) < 0.95,
        n_categories=(n_items + 499) // 500,
    )
    return events, catalogue


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_method(method: str, n_users: int, n_items: int, n_events: int) -> dict:
    events, catalogue = synthetic(n_users, n_items, n_events)
    base = _rss_mib()
    started = time.perf_counter()
    if method == "kalido":
        params = rec_params(load_policy().profiling)  # what the pipeline runs
        sim = recommender.similarity(events, catalogue, params)
        middle = time.perf_counter()
        recs = recommender.recommend(events, catalogue, sim, params)
        rows, parts = len(recs.item), {"similarity_s": round(middle - started, 2)}
    elif method == "kalido_self_check":
        # The similarity stage's other half: the held-back week's self-check and the weights
        # learned on it (a similarity per half-life tried, lists for the sampled people).
        profiling = load_policy().profiling
        holdout = Holdout(
            days=float(profiling.quality_holdout_days),
            sample_users=profiling.quality_sample_users,
        )
        _, figures = holdout_quality(
            events, catalogue, rec_params(profiling), holdout, profiling.learned_weights
        )
        moved = [
            f"{name} {e['prior']:g}→{e['chosen']:g}"
            for name, e in figures["quality_learned"].items()
            if e["chosen"] != e["prior"]
        ]
        rows, parts = figures["quality_users"], {"learned": ", ".join(moved) or "none moved"}
    else:
        import scipy.sparse as sp
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        weights = np.array([1.0, 3.0, 5.0])[events.kind]
        matrix = sp.csr_matrix((weights, (events.user, events.item)), shape=(n_users, n_items))
        matrix.sum_duplicates()
        model = (CosineRecommender if method == "implicit_cosine" else BM25Recommender)(K=20)
        model.fit(matrix, show_progress=False)
        middle = time.perf_counter()
        users = np.arange(n_users)
        ids, _ = model.recommend(users, matrix, N=20, filter_already_liked_items=False)
        rows, parts = int((ids >= 0).sum()), {"fit_s": round(middle - started, 2)}
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": method,
        "seconds": round(seconds, 2),
        **parts,
        "peak_rss_mib": round(peak),
        "rss_after_data_mib": round(base),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kalido.tools.bench_recs", description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = (args.users, args.products, args.interactions)
    if args.method:
        print(json.dumps(run_method(args.method, *size)))
        return 0
    print(
        f"bench-recs: {args.users} users × {args.products} products × {args.interactions} "
        "interactions; similarity + 20 recommendations for every user; one subprocess per method"
    )
    print("| method | seconds | detail | peak RSS MiB | RSS after data MiB | rows |")
    print("|---|---|---|---|---|---|")
    for method in ("kalido", "kalido_self_check", "implicit_cosine", "implicit_bm25"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "kalido.tools.bench_recs",
                "--method",
                method,
                *_size_args(args),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        detail = ", ".join(f"{k} {r[k]}" for k in ("similarity_s", "fit_s", "learned") if k in r)
        print(
            f"| {r['method']} | {r['seconds']} | {detail} | {r['peak_rss_mib']} | "
            f"{r['rss_after_data_mib']} | {r['rows']} |",
            flush=True,
        )
    return 0


def _size_args(args) -> list[str]:
    return [
        "--users",
        str(args.users),
        "--products",
        str(args.products),
        "--interactions",
        str(args.interactions),
    ]


if __name__ == "__main__":
    sys.exit(main())
