"""The nightly self-check: the recommender trained on all but the last days, scored on what a sample
of people did in those days, against trending popularity held to the same k.

Everything is pseudonymous integer codes from the gated events of the night; the result is a
handful of aggregate figures (recommendation_quality in the warehouse).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kalido import recommender
from kalido.features.metrics import K, paired_difference, personal_values
from kalido.recommender import Catalogue, Interactions, RecParams

# Trending: what most distinct people viewed in the last days before the split.
TRENDING_DAYS = 7.0
# A fixed odd multiplier modulo 2^32 orders people the same way every night (a seeded sample that
# does not depend on the order rows came in).
SAMPLE_MULTIPLIER = 2654435761


FIGURES = (
    "quality_hr_at_20",
    "quality_mrr_at_20",
    "quality_baseline_hr_at_20",
    "quality_baseline_mrr_at_20",
    "quality_coverage",
    "quality_baseline_coverage",
    "quality_hr_gap",
    "quality_hr_gap_ci95",
)


@dataclass(frozen=True)
class Holdout:
    days: float  # the held-back days before the cutoff
    sample_users: int  # at most this many people are scored (a bounded share of the night)


def _subset(events: Interactions, keep: np.ndarray, shift: float) -> Interactions:
    return replace(
        events,
        user=events.user[keep],
        item=events.item[keep],
        age_days=events.age_days[keep] - shift,
        kind=events.kind[keep],
        group=events.group[keep],
    )


def _sample(users: np.ndarray, size: int) -> np.ndarray:
    keys = (users.astype(np.uint64) * np.uint64(SAMPLE_MULTIPLIER)) % np.uint64(2**32)
    return np.sort(users[np.lexsort((users, keys))[:size]])


def trending_lists(
    train: Interactions, history: Interactions, catalogue: Catalogue, params: RecParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, rank, item) of the trending baseline for every user of `history`: in-stock products
    ranked by the distinct people who viewed them in the last TRENDING_DAYS of `train`, kept
    only with at least `min_users` people (the same k as every cross-person signal), minus what
    each user may not be recommended (recommender.excluded_pairs)."""
    recent = train.age_days < TRENDING_DAYS
    pairs = np.unique(train.user[recent].astype(np.int64) * train.n_items + train.item[recent])
    people = np.bincount(pairs % train.n_items, minlength=train.n_items)
    ranked = np.flatnonzero((people >= params.min_users) & catalogue.in_stock)
    ranked = ranked[np.lexsort((ranked, -people[ranked]))]
    blocked_users, blocked_items = recommender.excluded_pairs(history, params)
    blocked = np.unique(blocked_users.astype(np.int64) * train.n_items + blocked_items)
    depth = min(len(ranked), K + int(np.bincount(blocked_users).max(initial=0)))
    users = np.repeat(np.arange(history.n_users), depth)
    items = np.tile(ranked[:depth], history.n_users)
    allowed = ~np.isin(users.astype(np.int64) * train.n_items + items, blocked)
    users, items = users[allowed], items[allowed]
    starts = np.searchsorted(users, np.arange(history.n_users))
    rank = np.arange(len(users)) - starts[users] + 1
    top = rank <= K
    return users[top], rank[top], items[top]


def holdout_quality(
    events: Interactions, catalogue: Catalogue, params: RecParams, holdout: Holdout
) -> dict:
    """HR@20, MRR@20 and coverage of the recommender and of trending popularity, on the products
    new to each sampled person among those they viewed, carted or bought in the held-back days;
    with the paired difference of HR (recommender - trending) and its 95 % interval."""
    held = events.age_days < holdout.days
    train = _subset(events, ~held, holdout.days)
    known = np.unique(train.user.astype(np.int64) * events.n_items + train.item)
    test_keys = np.unique(events.user[held].astype(np.int64) * events.n_items + events.item[held])
    new = test_keys[~np.isin(test_keys, known)]
    candidates = np.intersect1d(np.unique(new // events.n_items), np.unique(train.user))
    people = _sample(candidates, holdout.sample_users)
    result = {"quality_users": len(people), **dict.fromkeys(FIGURES)}
    if len(people) == 0:
        return result  # nobody to score yet (a first night, a quiet week): no figures
    code = np.full(events.n_users, -1, dtype=np.int64)
    code[people] = np.arange(len(people))
    mine = code[train.user] >= 0
    history = replace(_subset(train, mine, 0.0), n_users=len(people), group=code[train.user[mine]])
    history = replace(history, user=code[history.user].astype(np.int32))
    truth = new[code[new // events.n_items] >= 0]
    truth_user, truth_item = code[truth // events.n_items], truth % events.n_items

    sim = recommender.similarity(train, catalogue, params)
    ours = recommender.recommend(history, catalogue, sim, params)
    base_user, base_rank, base_item = trending_lists(train, history, catalogue, params)
    n_items = events.n_items
    model = personal_values(ours.user, ours.rank, ours.item, truth_user, truth_item, n_items)
    base = personal_values(base_user, base_rank, base_item, truth_user, truth_item, n_items)
    gap = paired_difference(model["hr"], base["hr"])
    in_stock = max(int(catalogue.in_stock.sum()), 1)
    return {
        **result,
        "quality_hr_at_20": round(float(model["hr"].mean()), 6),
        "quality_mrr_at_20": round(float(model["mrr"].mean()), 6),
        "quality_baseline_hr_at_20": round(float(base["hr"].mean()), 6),
        "quality_baseline_mrr_at_20": round(float(base["mrr"].mean()), 6),
        "quality_coverage": round(len(np.unique(ours.item)) / in_stock, 6),
        "quality_baseline_coverage": round(len(np.unique(base_item)) / in_stock, 6),
        "quality_hr_gap": round(gap["difference"], 6),
        "quality_hr_gap_ci95": None if gap["ci95"] is None else round(gap["ci95"], 6),
    }
