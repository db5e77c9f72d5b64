"""Offline evaluation: global temporal split, the real pipeline for training, standard baselines.

`evaluate(home, split, horizon_days)`:
1. ingests HOME/landing up to the end of the horizon into a throwaway store (HOME/evaluation/.work);
2. copies its raw store and deletes everything at or after the split from the copy, then runs the
   real pseudonymise → gate → build_features stages on it (nothing after the split can leak);
3. pseudonymises and gates the full store to read what eligible users did in [split, split+h);
4. scores the pipeline's own tables and each baseline, trained on the same gated inputs, on
   (a) personal top-20 vs the products each user viewed or bought in the horizon and (b) the next
   product viewed in a session vs the current product's top-20 similar products.
The throwaway stores are deleted at the end; only counts and metrics are written.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import scipy.sparse as sp

from kalido.config import Layout, Settings
from kalido.db import attach, connect, run_sql
from kalido.features import recommender
from kalido.features.metrics import (
    K,
    intra_list_diversity,
    means,
    next_item_values,
    paired_difference,
    personal_values,
    repeat_share,
)
from kalido.features.params import event_params, interactions, rec_params
from kalido.pipelines.build_features import build_features
from kalido.pipelines.gate import gate
from kalido.pipelines.ingest import ingest
from kalido.pipelines.pseudonymise import pseudonymise
from kalido.pipelines.recommend import recommend
from kalido.pipelines.similarity import build_similarity
from kalido.policy import Policy
from kalido.stores import feature_tables, raw_browsing
from kalido.stores.feature_tables import learned_params

log = logging.getLogger(__name__)

# The throwaway stores are deleted after each evaluation; a fixed key keeps results reproducible.
EVALUATION_KEY = b"kalido-offline-evaluation-throwaway-key-v1"
RECENT_DAYS = 7
SAR_HALF_LIFE_DAYS = 30.0
# SAR's item × item co-occurrence is built this many entries (at most) at a time: whole, it took
# 5.4 GB at RetailRocket scale and grows with the square of a heavy user's products.
SAR_BLOCK_ENTRIES = 20_000_000
IMPLICIT_NEIGHBOURS = 100
UNCONSTRAINED = "_unconstrained"  # the suffix of a method's row without the privacy threshold


# --- baselines ------------------------------------------------------------------------------


@dataclass
class Split:
    events: recommender.Interactions  # all gated behaviour before the split
    catalogue: recommender.Catalogue
    params: recommender.RecParams
    eval_users: np.ndarray  # user codes with a truth
    sources: np.ndarray  # products whose similar list task (b) asks for
    excluded: np.ndarray  # user * n_items + item bought within the exclusion window
    # user * n_items + item of everything the user did before the split (the repeats' measure)
    history: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass
class Lists:
    rec_user: np.ndarray
    rec_rank: np.ndarray
    rec_item: np.ndarray
    sim_src: np.ndarray
    sim_rank: np.ndarray
    sim_dst: np.ndarray


def build_unsharded(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Every feature in one shard (evaluation harness): build_features, similarity, recommend."""
    return {
        **build_features(settings, policy, logical_date, run_id),
        **build_similarity(settings, policy, logical_date, run_id),
        **recommend(settings, policy, logical_date, run_id),
    }


def _ranked(rows: np.ndarray, scores: np.ndarray, items: np.ndarray, k: int):
    """Top k per row (score desc, item asc) as (row, rank, item)."""
    take = recommender._top_per_row(rows, scores, items, k)
    rows, items = rows[take], items[take]
    starts = recommender._run_starts(rows)
    rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)])) + 1
    return rows, rank, items


def _allowed(split: Split, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The same business rules as the pipeline: in stock, not bought by the user lately."""
    keys = users.astype(np.int64) * split.events.n_items + items
    return split.catalogue.in_stock[items] & ~np.isin(keys, split.excluded)


def _from_scores(split: Split, users, items, scores, sim_src, sim_dst, sim_scores) -> Lists:
    ok = _allowed(split, users, items)
    ru, rr, ri = _ranked(users[ok], scores[ok], items[ok], K)
    keep = (sim_src != sim_dst) & split.catalogue.in_stock[sim_dst]
    ss, sr, sd = _ranked(sim_src[keep], sim_scores[keep], sim_dst[keep], K)
    return Lists(ru, rr, ri, ss, sr, sd)


def _popular_lists(split: Split, popularity: np.ndarray, per_user_category=None) -> Lists:
    """A popularity ranking for every evaluated user (optionally their top category first)."""
    stock = np.flatnonzero(split.catalogue.in_stock & (popularity > 0))
    depth = K + 1 + int(np.bincount(split.excluded // split.events.n_items).max(initial=0))
    top = stock[
        recommender._top_per_row(np.zeros(len(stock), np.int32), popularity[stock], stock, depth)
    ]
    users = np.repeat(split.eval_users, len(top))
    items = np.tile(top, len(split.eval_users))
    scores = np.tile(popularity[top], len(split.eval_users))
    sim_src = np.repeat(split.sources, len(top))
    sim_dst = np.tile(top, len(split.sources))
    sim_scores = np.tile(popularity[top], len(split.sources))
    if per_user_category is not None:
        cat = split.catalogue.category
        in_cat = stock[recommender._top_per_row(cat[stock], popularity[stock], stock, depth)]
        indptr = np.r_[
            0, np.cumsum(np.bincount(cat[in_cat], minlength=split.catalogue.n_categories))
        ]
        bonus = popularity.max(initial=0.0) + 1.0

        def by_category(rows, categories):
            owner, pos = recommender._expand(indptr, categories)
            return rows[owner], in_cat[pos], bonus + popularity[in_cat[pos]]

        u2, i2, s2 = by_category(split.eval_users, per_user_category[split.eval_users])
        c2, d2, t2 = by_category(split.sources, cat[split.sources])
        users, items, scores = np.r_[users, u2], np.r_[items, i2], np.r_[scores, s2]
        sim_src, sim_dst = np.r_[sim_src, c2], np.r_[sim_dst, d2]
        sim_scores = np.r_[sim_scores, t2]
        # One row per (user, item): the category copy outranks the global one.
        users, items, scores = _dedupe(users, items, scores, split.events.n_items)
        sim_src, sim_dst, sim_scores = _dedupe(sim_src, sim_dst, sim_scores, split.events.n_items)
    return _from_scores(split, users, items, scores, sim_src, sim_dst, sim_scores)


def _dedupe(rows, items, scores, n_items):
    keys = rows.astype(np.int64) * n_items + items
    order = np.lexsort((-scores, keys))
    first = recommender._run_starts(keys[order])
    pick = order[first]
    return rows[pick], items[pick], scores[pick]


def _user_item(split: Split, weights: np.ndarray) -> sp.csr_matrix:
    ev = split.events
    matrix = sp.csr_matrix((weights, (ev.user, ev.item)), shape=(ev.n_users, ev.n_items))
    matrix.sum_duplicates()
    return matrix


def _type_weights(split: Split) -> np.ndarray:
    p = split.params
    return np.array([p.view_weight, p.cart_weight, p.order_weight])[split.events.kind]


def _people(binary: sp.csr_matrix, min_users: int) -> np.ndarray:
    """Per product, the distinct people in `binary` (user × item); 0 below `min_users` (k): a
    product counts for popularity only when at least k people back it."""
    people = np.asarray(binary.astype(bool).sum(axis=0)).ravel().astype(float)
    people[people < min_users] = 0.0
    return people


def popular(split: Split, min_users: int = 1) -> Lists:
    binary = _user_item(split, np.ones(len(split.events.item)))
    return _popular_lists(split, _people(binary, min_users))


def recent_popular(split: Split, min_users: int = 1) -> Lists:
    recent = split.events.age_days <= RECENT_DAYS
    binary = _user_item(split, recent.astype(float))
    binary.eliminate_zeros()
    return _popular_lists(split, _people(binary, min_users))


def category_popular(split: Split, min_users: int = 1) -> Lists:
    """Popular products of the person's top category first (their own history: no k), then
    popular overall (held to k)."""
    ev, cat = split.events, split.catalogue.category
    binary = _user_item(split, np.ones(len(ev.item)))
    popularity = _people(binary, min_users)
    counts = sp.csr_matrix(
        (np.ones(len(ev.item)), (ev.user, cat[ev.item])),
        shape=(ev.n_users, split.catalogue.n_categories),
    )
    counts.sum_duplicates()
    rows = np.repeat(np.arange(ev.n_users), np.diff(counts.indptr))
    best = recommender._top_per_row(rows, counts.data, counts.indices, 1)
    top_category = np.zeros(ev.n_users, dtype=np.int64)
    top_category[rows[best]] = counts.indices[best]
    return _popular_lists(split, popularity, per_user_category=top_category)


def _sparse_top(split: Split, scores: sp.csr_matrix, rows: np.ndarray, depth: int):
    coo = scores.tocoo()
    r, c, v = rows[coo.row], coo.col.astype(np.int64), coo.data
    take = recommender._top_per_row(r, v, c, depth)
    return r[take], c[take], v[take]


def _binary(split: Split) -> sp.csr_matrix:
    """user × item, 1 where the user did anything with the product."""
    binary = _user_item(split, np.ones(len(split.events.item)))
    binary.data[:] = 1.0
    return binary


def _item_blocks(binary: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """(item × user, starts of the item blocks): a block's rows of the item × item
    co-occurrence (by_item[first:stop] @ binary) hold at most SAR_BLOCK_ENTRIES entries."""
    by_item = binary.T.tocsr()
    # A row's entries are at most the sum of its users' product counts.
    row_bound = by_item @ np.diff(binary.indptr).astype(np.float64)
    block_of = np.floor(np.cumsum(row_bound) / SAR_BLOCK_ENTRIES).astype(np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(block_of)) + 1, binary.shape[1]]
    return by_item, starts


def _supported(co: sp.coo_matrix, first: int, min_users: int) -> np.ndarray:
    """Which entries of a block of the co-occurrence (distinct users per item pair) may be used:
    a pair of two products needs at least `min_users` (k) people; a product's own entry is the
    person's own history and needs none."""
    return (co.data >= min_users) | (co.row + first == co.col)


def sar(split: Split, min_users: int = 1) -> Lists:
    """SAR: Jaccard item co-occurrence × time-decayed user affinity (half-life 30 days), using
    only the item pairs at least `min_users` distinct people co-occur on.

    The similarity is symmetric, so a block of its rows is also a block of its columns: each
    block gives the users' complete scores for its products (their best kept), and its rows of
    the similar lists. Neither the similarity nor all the users' scores are ever held whole."""
    ev = split.events
    binary = _binary(split)
    by_item, starts = _item_blocks(binary)
    users_of = np.diff(by_item.indptr)  # the co-occurrence's diagonal
    affinity = _user_item(split, _type_weights(split) * np.exp2(-ev.age_days / SAR_HALF_LIFE_DAYS))
    affinity = affinity[split.eval_users]
    depth = K + 1 + int(np.bincount(split.excluded // ev.n_items).max(initial=0))
    sources = np.sort(split.sources)
    personal, similar = [], []
    for first, stop in zip(starts[:-1], starts[1:], strict=True):
        co = (by_item[first:stop] @ binary).tocoo()
        if min_users > 1:
            keep = _supported(co, first, min_users)
            co = sp.coo_matrix((co.data[keep], (co.row[keep], co.col[keep])), shape=co.shape)
        jaccard = co.data / (users_of[co.row + first] + users_of[co.col] - co.data)
        block = sp.csr_matrix((jaccard, (co.row, co.col)), shape=(stop - first, ev.n_items))
        del co, jaccard
        users, items, values = _sparse_top(
            split, (affinity @ block.T).tocsr(), split.eval_users, depth * 3
        )
        personal.append((users, items + first, values))
        here = sources[(sources >= first) & (sources < stop)]
        similar.append(_sparse_top(split, block[here - first], here, K + 1))
    users, items, values = (np.concatenate(column) for column in zip(*personal, strict=True))
    best = recommender._top_per_row(users, values, items, depth * 3)
    src, dst, sim = (np.concatenate(column) for column in zip(*similar, strict=True))
    return _from_scores(split, users[best], items[best], values[best], src, dst, sim)


def _implicit_weighting(model, matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The user × item matrix an implicit ItemItemRecommender's fit hands to all_pairs_knn
    (implicit's own weighting functions, as its CosineRecommender / BM25Recommender call them)."""
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, bm25_weight
    from implicit.nearest_neighbours import normalize as cosine_normalize

    if isinstance(model, BM25Recommender):
        return bm25_weight(matrix.T, model.K1, model.B).T.tocsr()
    if isinstance(model, CosineRecommender):
        return cosine_normalize(matrix.T).T.tocsr()
    raise TypeError(f"no weighting known for {type(model).__name__}")


def _similarity_held_to_k(split: Split, weighted: sp.csr_matrix, neighbours: int, min_users):
    """implicit's all_pairs_knn (item × item = weighted.T @ weighted, the `neighbours` best per
    row, the product itself included) over the item pairs at least `min_users` distinct people
    co-occur on only, built a block of products at a time as SAR's."""
    n_items = weighted.shape[1]
    binary = _binary(split)
    by_item, starts = _item_blocks(binary)
    by_item_weighted = weighted.T.tocsr()
    rows, cols, values = [], [], []
    for first, stop in zip(starts[:-1], starts[1:], strict=True):
        co = (by_item[first:stop] @ binary).tocoo()
        keep = _supported(co, first, min_users)
        allowed = sp.csr_matrix(
            (np.ones(int(keep.sum())), (co.row[keep], co.col[keep])), shape=co.shape
        )
        del co, keep
        block = (by_item_weighted[first:stop] @ weighted).multiply(allowed).tocoo()
        del allowed
        nonzero = block.data != 0
        row, col, value = block.row[nonzero] + first, block.col[nonzero], block.data[nonzero]
        take = recommender._top_per_row(row, value, col, neighbours)
        rows.append(row[take])
        cols.append(col[take])
        values.append(value[take])
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
    )


def _implicit(model_class, min_users: int = 1) -> Callable[[Split], Lists]:
    def run(split: Split) -> Lists:
        from implicit.nearest_neighbours import NearestNeighboursScorer
        from implicit.utils import ParameterWarning

        ev = split.events
        matrix = _user_item(split, _type_weights(split))
        model = model_class(K=IMPLICIT_NEIGHBOURS, num_threads=0)
        if min_users > 1:
            # implicit's weighting and recommend, its neighbour search over k-supported pairs.
            model.similarity = _similarity_held_to_k(
                split, _implicit_weighting(model, matrix), IMPLICIT_NEIGHBOURS, min_users
            )
            model.scorer = NearestNeighboursScorer(model.similarity)
        else:
            with warnings.catch_warnings():
                # BM25Recommender hands its own COO weighting to the CSR fit (implicit's).
                warnings.filterwarnings("ignore", category=ParameterWarning)
                model.fit(matrix, show_progress=False)
        out_of_stock = np.flatnonzero(~split.catalogue.in_stock)
        depth = K + 1 + int(np.bincount(split.excluded // ev.n_items).max(initial=0))
        ids, scores = model.recommend(
            split.eval_users,
            matrix[split.eval_users],
            N=min(depth, ev.n_items),
            filter_already_liked_items=False,
            filter_items=out_of_stock if len(out_of_stock) else None,
        )
        users = np.repeat(split.eval_users, ids.shape[1])
        valid = ids.ravel() >= 0
        sim_ids, sim_scores = model.similar_items(split.sources, N=min(K + 1, ev.n_items))
        src = np.repeat(split.sources, sim_ids.shape[1])
        sim_valid = sim_ids.ravel() >= 0
        return _from_scores(
            split,
            users[valid],
            ids.ravel()[valid].astype(np.int64),
            scores.ravel()[valid],
            src[sim_valid],
            sim_ids.ravel()[sim_valid].astype(np.int64),
            sim_scores.ravel()[sim_valid],
        )

    return run


def recommender_lists(split: Split, params: recommender.RecParams) -> Lists:
    """The pipeline's recommender on the split: similarity over every user, lists for the
    evaluated users (history = every training event of theirs), as the baselines are timed."""
    ev = split.events
    sim = recommender.similarity(ev, split.catalogue, params)
    mine = np.isin(ev.user, split.eval_users)
    # Scored as a shard of their own: a list depends only on its user's history.
    history = recommender.Interactions(
        user=np.searchsorted(split.eval_users, ev.user[mine]).astype(np.int32),
        item=ev.item[mine],
        age_days=ev.age_days[mine],
        kind=ev.kind[mine],
        group=ev.group[mine],
        n_users=len(split.eval_users),
        n_items=ev.n_items,
    )
    recs = recommender.recommend(history, split.catalogue, sim, params)
    src, dst, _, rank = sim.rows()
    wanted = np.isin(src, split.sources)
    return Lists(
        split.eval_users[recs.user],
        recs.rank.astype(np.int64),
        recs.item.astype(np.int64),
        src[wanted].astype(np.int64),
        rank[wanted].astype(np.int64),
        dst[wanted].astype(np.int64),
    )


def unthresholded(split: Split) -> Lists:
    """Diagnostic, never published: the recommender with k = 1, to show what the privacy
    threshold costs on this data."""
    return recommender_lists(split, replace(split.params, min_users=1))


def _baselines(min_users: int) -> dict[str, Callable[[Split], Lists]]:
    """Each baseline held to k (its cross-person pairs and popularity need `min_users` distinct
    people, as kalido's), followed by the same baseline unconstrained."""
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    methods = {
        "popular": lambda k: partial(popular, min_users=k),
        "recent_popular_7d": lambda k: partial(recent_popular, min_users=k),
        "category_popular": lambda k: partial(category_popular, min_users=k),
        "sar_jaccard": lambda k: partial(sar, min_users=k),
        "implicit_cosine": lambda k: _implicit(CosineRecommender, k),
        "implicit_bm25": lambda k: _implicit(BM25Recommender, k),
    }
    out = {}
    for name, make in methods.items():
        out[name] = make(min_users)
        out[name + UNCONSTRAINED] = make(1)
    return out


def _measure(fn: Callable, *args):
    """(result, seconds, peak MiB of Python-tracked allocations, numpy/scipy buffers included)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = fn(*args)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, peak / 2**20


# --- the harness ----------------------------------------------------------------------------


class EvaluationBusy(Exception):
    """Another evaluation holds the lock on this home's evaluation folder."""


@contextlib.contextmanager
def locked(out_dir: Path):
    """Hold HOME/evaluation/.lock for the duration; a second evaluation there fails fast.

    An OS lock (flock) rather than a marker file: it goes away with its process, so a killed
    evaluation never leaves a stale lock behind.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ".lock"
    handle = open(path, "a+", encoding="ascii")  # noqa: SIM115 - closed in finally
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise EvaluationBusy(
                f"another evaluation (pid {holder}) is running in {out_dir}; wait for it to "
                f"finish (lock: {path})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def split_instant(text: str, timezone: str) -> datetime:
    """A date (local midnight) or an ISO timestamp (naive = local time) as naive UTC."""
    zone = ZoneInfo(timezone)
    try:
        moment = datetime.combine(date.fromisoformat(text), dtime(), zone)
    except ValueError:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _local_day(instant_utc: datetime, timezone: str) -> date:
    return instant_utc.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


def evaluate(home: Path, split_text: str, horizon_days: float, policy: Policy) -> dict:
    """Run the whole protocol; writes HOME/evaluation/report.{md,json}; returns the report."""
    tz = policy.business_timezone
    split = split_instant(split_text, tz)
    end = split + timedelta(days=horizon_days)
    out_dir = home / "evaluation"
    with locked(out_dir):
        return _evaluate_locked(home, out_dir, split, end, horizon_days, policy)


def _evaluate_locked(home, out_dir, split, end, horizon_days, policy) -> dict:
    tz = policy.business_timezone
    tiny = timedelta(microseconds=1)
    train_day, end_day = _local_day(split - tiny, tz), _local_day(end - tiny, tz)
    work = out_dir / ".work"
    shutil.rmtree(work, ignore_errors=True)
    (work / "test").mkdir(parents=True)
    (work / "train" / "restricted").mkdir(parents=True)
    (work / "test" / "landing").symlink_to((home / "landing").resolve())
    test = Settings(layout=Layout(work / "test"), key_version=1, key=EVALUATION_KEY)
    train = Settings(layout=Layout(work / "train"), key_version=1, key=EVALUATION_KEY)
    try:
        ingested = ingest(test, policy, end_day, "evaluation")
        shutil.copyfile(test.layout.raw_db, train.layout.raw_db)
        # Links: a rewrite swaps a new file in and leaves the test store's file as it is.
        shutil.copytree(test.layout.raw_browsing, train.layout.raw_browsing, copy_function=os.link)
        with connect(train.layout.raw_db, timezone=tz) as con:
            raw_browsing.open_view(con, train.layout, removable=True)
            run_sql(con, "evaluation/truncate_raw", {"split": split, "train_day": train_day})
            raw_browsing.rewrite_removed(con, train.layout)
        pseudonymise(train, policy, train_day, "evaluation")
        gated = gate(train, policy, train_day, "evaluation")
        features, stage_seconds, stage_mib = _measure(
            build_unsharded, train, policy, train_day, "evaluation"
        )
        pseudonymise(test, policy, end_day, "evaluation")
        gate(test, policy, end_day, "evaluation")
        report = _score(train, test, policy, split, end, stage_seconds, stage_mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["data"] |= {
        "split": split.isoformat() + "Z",
        "horizon_days": horizon_days,
        "train_logical_date": train_day.isoformat(),
        "rows_loaded": ingested["rows_loaded"],
        "eligible_users": gated["may_profile"],
        "features": features,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(report), encoding="utf-8")
    return report


def _score(train, test, policy, split, end, stage_seconds, stage_mib) -> dict:
    with connect(train.layout.work_db, timezone=policy.business_timezone) as con:
        # The weights the training night learned (what its published lists were built with).
        params = learned_params(con, rec_params(policy.profiling))
        for inputs in ("recommender_codes", "recommender_events", "recommender_history"):
            run_sql(con, f"features/{inputs}", {"cutoff": split, **event_params(policy)})
        attach(con, test.layout.work_db, "te")
        run_sql(con, "evaluation/test_window", {"split": split, "end": end, **event_params(policy)})
        catalogue = feature_tables.catalogue(con)
        n_users = con.execute("select count(*) from rec_users").fetchone()[0]
        raw = con.execute("select * from rec_events").fetchnumpy()
        own = con.execute("select user_code, item from rec_history").fetchnumpy()
        truth = con.execute("select user_code, item from eval_truth").fetchnumpy()
        pairs = con.execute("select current_item, next_item from eval_next").fetchnumpy()
        ours = con.execute("select user_code, rank, item from eval_kalido_recs").fetchnumpy()
        ours_sim = con.execute("select src, rank, dst from eval_kalido_similar").fetchnumpy()
    n_items = len(catalogue.in_stock)
    events = interactions(raw, n_users, n_items)
    excluded_users, excluded_items = recommender.excluded_pairs(events, params)
    excluded = np.unique(excluded_users.astype(np.int64) * n_items + excluded_items)
    # What each person did before the split (retained history and the similarity's input).
    history = np.unique(
        np.r_[
            own["user_code"].astype(np.int64) * n_items + own["item"].astype(np.int64),
            events.user.astype(np.int64) * n_items + events.item,
        ]
    )
    truth_user, truth_item = truth["user_code"].astype(np.int64), truth["item"].astype(np.int64)
    current, following = pairs["current_item"].astype(np.int64), pairs["next_item"].astype(np.int64)
    data = Split(
        events=events,
        catalogue=catalogue,
        params=params,
        eval_users=np.unique(truth_user),
        sources=np.unique(current),
        excluded=excluded,
        history=history,
    )
    n_stock = max(int(catalogue.in_stock.sum()), 1)

    values = {}  # method -> its per-user and per-pair values, for the paired differences

    def row(name, lists: Lists, seconds, mib, extra=None) -> dict:
        per_user = np.bincount(
            np.searchsorted(data.eval_users, lists.rec_user), minlength=len(data.eval_users)
        )
        personal = personal_values(
            lists.rec_user, lists.rec_rank, lists.rec_item, truth_user, truth_item, n_items
        )
        similar = next_item_values(
            lists.sim_src, lists.sim_rank, lists.sim_dst, current, following, n_items
        )
        values[name] = {"personal": personal, "similar": similar}
        diversity = intra_list_diversity(
            lists.rec_user, lists.rec_rank, lists.rec_item, catalogue.category
        )
        return {
            "method": name,
            "personal": {"users": len(data.eval_users), **means(personal)},
            "similar": {"pairs": len(current), **means(similar)},
            "repeats": repeat_share(
                lists.rec_user, lists.rec_rank, lists.rec_item, data.history, n_items
            ),
            # Within the discovery windows (what the feed must never hold; the baselines are
            # filtered by them): 0 for a list that keeps the policy.
            "window_repeats": repeat_share(
                lists.rec_user, lists.rec_rank, lists.rec_item, data.excluded, n_items
            ),
            "coverage": len(np.unique(lists.rec_item)) / n_stock,
            "diversity": float(diversity.mean()) if len(diversity) else 0.0,
            "full_lists": float(np.mean(per_user >= K)) if len(per_user) else 0.0,
            "train_seconds": round(seconds, 3),
            "peak_mib": round(mib, 1),
            **(extra or {}),
        }

    ours_lists = Lists(
        ours["user_code"].astype(np.int64),
        ours["rank"].astype(np.int64),
        ours["item"].astype(np.int64),
        ours_sim["src"].astype(np.int64),
        ours_sim["rank"].astype(np.int64),
        ours_sim["dst"].astype(np.int64),
    )
    _, core_seconds, core_mib = _measure(recommender_lists, data, params)
    rows = [
        row(
            "kalido",
            ours_lists,
            core_seconds,
            core_mib,
            {"stage_seconds": round(stage_seconds, 3), "stage_peak_mib": round(stage_mib, 1)},
        )
    ]
    lists, seconds, mib = _measure(unthresholded, data)
    rows.append(row("kalido" + UNCONSTRAINED, lists, seconds, mib))
    for name, method in _baselines(params.min_users).items():
        lists, seconds, mib = _measure(method, data)
        rows.append(row(name, lists, seconds, mib))
        log.info("evaluated %s in %.2f s", name, seconds)

    def paired(theirs: str, ours: str) -> dict:
        return {
            f"{task}_{metric}": paired_difference(
                values[theirs][task][metric], values[ours][task][metric]
            )
            for task in ("personal", "similar")
            for metric in ("hr", "mrr")
        }

    for r in rows:
        if r["method"] != "kalido":
            r["minus_kalido"] = paired(r["method"], "kalido")
        if r["method"] + UNCONSTRAINED in values:
            # The price of privacy: held to k minus the same method unconstrained.
            r["price_of_privacy"] = paired(r["method"], r["method"] + UNCONSTRAINED)
    return {
        "data": {
            "train_interactions": int(len(events.item)),
            "users": int(n_users),
            "products": int(n_items),
            "in_stock": int(n_stock),
            "eval_users": int(len(data.eval_users)),
            "truth_pairs": int(len(truth_user)),
            "next_item_pairs": int(len(current)),
            "min_distinct_users": int(params.min_users),
        },
        "methods": rows,
        "notes": NOTES,
    }


NOTES = (
    "Split: training = the pipeline's stages on a raw store holding only rows before the split; "
    "truth = eligible users' product views, add-to-carts and orders in [split, split+horizon) on "
    "products of the catalogue new to them (none of their history before the split: the email "
    "is for discovery). recall@20 = hits / all the user's new horizon products. "
    "Every method gets the same rules: in stock, nothing the user bought in the last 30 days "
    "nor viewed or carted in the last 30 days (the policy's discovery windows), and the privacy "
    "threshold k (similarity_min_distinct_users): an item-item baseline (SAR, implicit) uses "
    "only the product pairs at least k distinct people co-occur on (a product's own entry, the "
    "person's own history, needs none), a popularity baseline only the products at least k "
    "people interacted with (overall or in the last 7 days). Each method's *_unconstrained row "
    "is the same without k; the price of privacy = held to k minus unconstrained, paired. "
    "repeats = share of the list slots holding a product the person interacted with before "
    "the split (any age, also older than the discovery windows; window_repeats in the JSON: "
    "within them, 0 for a list that keeps the policy). diversity = intra-list category "
    "diversity, the mean over people with 2+ products of 1 - the share of their list's "
    "product pairs in one category (0 when the log has one category). "
    "kalido = the pipeline's own published tables (k-thresholded similarity); its train time is "
    "the recommender core timed as the baselines are (similarity + lists for the evaluated "
    "users), stage_seconds the whole build_features stage (lists for every eligible user). "
    "kalido_unconstrained = the same recommender with the privacy threshold "
    "k = 1 (never published; shows what k costs on this data). Baselines: fit + lists for "
    "evaluated users only. implicit: "
    f"ItemItemRecommender K={IMPLICIT_NEIGHBOURS}, weights view/cart/order as the policy, "
    "filter_already_liked_items=False; held to k, its own weighting and recommend over a "
    "neighbour search of the k-supported pairs. Peak memory: tracemalloc peak (Python-tracked "
    "allocations, numpy/scipy buffers included; DuckDB's and implicit's native scratch not)."
)


def markdown(report: dict) -> str:
    """The report as a markdown table, one row per method."""
    d = report["data"]
    lines = [
        f"# Offline evaluation: split {d.get('split')}, horizon {d.get('horizon_days')} days",
        "",
        f"{d['train_interactions']} training interactions, {d['users']} eligible users, "
        f"{d['products']} products ({d['in_stock']} in stock); {d['eval_users']} users with a "
        f"truth ({d['truth_pairs']} user-product pairs), {d['next_item_pairs']} next-item pairs. "
        f"k = {d.get('min_distinct_users', '?')} distinct people for every cross-person signal; "
        f"*{UNCONSTRAINED} rows are without it.",
        "",
        "| method | HR@20 | MRR@20 | nDCG@20 | recall@20 | next HR@20 | next MRR@20 | repeats "
        "| coverage | diversity | full lists | train s | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["methods"]:
        p, s = r["personal"], r["similar"]
        lines.append(
            f"| {r['method']} | {p['hr']:.4f} | {p['mrr']:.4f} | {p['ndcg']:.4f} | "
            f"{p['recall']:.4f} | {s['hr']:.4f} | {s['mrr']:.4f} | {r.get('repeats', 0):.3f} | "
            f"{r['coverage']:.3f} | {r.get('diversity', 0):.3f} | "
            f"{r['full_lists']:.3f} | {r['train_seconds']:.2f} | {r['peak_mib']:.0f} |"
        )
    lines += [
        "",
        "Each method minus kalido, paired over the same users (next-item pairs), ± the 95% "
        "confidence half-width; * where the interval excludes 0 (a gap beyond the luck of the "
        "split):",
        "",
        "| method | HR@20 | MRR@20 | next HR@20 | next MRR@20 |",
        "|---|---|---|---|---|",
    ]
    for r in report["methods"][1:]:
        cells = [difference_cell(d) for d in r["minus_kalido"].values()]
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    priced = [r for r in report["methods"] if "price_of_privacy" in r]
    if priced:
        lines += [
            "",
            "The price of privacy: each method held to k minus the same method unconstrained, "
            "paired, ± the 95% half-width (* beyond it):",
            "",
            "| method | HR@20 k / unconstrained | HR@20 | MRR@20 | next HR@20 | next MRR@20 |",
            "|---|---|---|---|---|---|",
        ]
        by_name = {r["method"]: r for r in report["methods"]}
        for r in priced:
            free = by_name[r["method"] + UNCONSTRAINED]["personal"]["hr"]
            cells = [difference_cell(d) for d in r["price_of_privacy"].values()]
            lines.append(
                f"| {r['method']} | {r['personal']['hr']:.4f} / {free:.4f} | "
                + " | ".join(cells)
                + " |"
            )
    lines += ["", report["notes"], ""]
    return "\n".join(lines)


def difference_cell(d: dict, digits: int = 4) -> str:
    """A paired difference ± its 95 % interval, starred when beyond it."""
    if d["ci95"] is None:
        return f"{d['difference']:+.{digits}f} (n = {d['n']})" if d["n"] else "no data"
    significant = abs(d["difference"]) > d["ci95"]
    return f"{d['difference']:+.{digits}f} ± {d['ci95']:.{digits}f}{' *' if significant else ''}"
