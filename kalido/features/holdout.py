"""The nightly self-check: the recommender trained on all but the last days, scored on what a sample
of people did in those days, against trending popularity held to the same k; and, on the same
split, the weights that depend on the shop learned from the log with the policy's values as prior.

Everything is pseudonymous integer codes from the gated events of the night; the result is a
handful of aggregate figures (recommendation_quality in the warehouse) and the chosen weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import ndtri as norm_quantile

from kalido.features import recommender
from kalido.features.metrics import Z95, K, paired_difference, personal_values
from kalido.features.recommender import Catalogue, Interactions, RecParams

# Trending: what most distinct people viewed in the last days before the split.
TRENDING_DAYS = 7.0
# splitmix64's constants: a person's place in the sample is a hash of their code and the night's
# seed, so the sample does not depend on the order rows came in, and changes night to night.
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
# A learned weight is tried at these multiples of its policy value (a value of 0 at these values):
# a small grid around the prior, so a night costs 1 + 2 × (learned weights) sample scorings and
# at most two more similarities (half-life), whatever the log.
GRID_FACTORS = (0.5, 2.0)
GRID_FROM_ZERO = (0.25, 1.0)
# The 95 % interval of a gain (metrics.paired_difference) is widened for the number of values
# tried in the night (Bonferroni): with ten tries, one of them beats the prior by luck far more
# often than 1 in 20.
# Below this many sampled people the interval itself cannot be trusted (a handful of people who
# all gained alike show no spread at all): the policy's values stand.
LEARN_MIN_PEOPLE = 30


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
    seed: int = 0  # the logical date's ordinal: the sample is the same on a rerun of the night


@dataclass
class HeldOut:
    """The split: training events, the sampled people's training history (coded 0..n-1) and
    the products new to them they viewed, carted or bought in the held-back days."""

    train: Interactions
    history: Interactions
    truth_user: np.ndarray
    truth_item: np.ndarray


def _subset(events: Interactions, keep: np.ndarray, shift: float) -> Interactions:
    return replace(
        events,
        user=events.user[keep],
        item=events.item[keep],
        age_days=events.age_days[keep] - shift,
        kind=events.kind[keep],
        group=events.group[keep],
    )


def _sample(users: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    with np.errstate(over="ignore"):
        key = users.astype(np.uint64) + np.uint64(seed % 2**32) * GOLDEN
        key = (key ^ (key >> np.uint64(30))) * MIX[0]
        key = (key ^ (key >> np.uint64(27))) * MIX[1]
        key ^= key >> np.uint64(31)
    return np.sort(users[np.lexsort((users, key))[:size]])


def held_out(events: Interactions, holdout: Holdout) -> HeldOut | None:
    """The self-check's split, or None when nobody both trained and came back with new products."""
    held = events.age_days < holdout.days
    train = _subset(events, ~held, holdout.days)
    known = np.unique(train.user.astype(np.int64) * events.n_items + train.item)
    test_keys = np.unique(events.user[held].astype(np.int64) * events.n_items + events.item[held])
    new = test_keys[~np.isin(test_keys, known)]
    candidates = np.intersect1d(np.unique(new // events.n_items), np.unique(train.user))
    people = _sample(candidates, holdout.sample_users, holdout.seed)
    if len(people) == 0:
        return None
    code = np.full(events.n_users, -1, dtype=np.int64)
    code[people] = np.arange(len(people))
    mine = code[train.user] >= 0
    history = replace(_subset(train, mine, 0.0), n_users=len(people), group=code[train.user[mine]])
    history = replace(history, user=code[history.user].astype(np.int32))
    truth = new[code[new // events.n_items] >= 0]
    return HeldOut(train, history, code[truth // events.n_items], truth % events.n_items)


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


class _Scorer:
    """The sampled people's lists and per-person HR/MRR@20 under some parameters; similarities
    and trends are computed once per half-life they depend on."""

    def __init__(self, held: HeldOut, catalogue: Catalogue):
        self.held, self.catalogue = held, catalogue
        self._similar: dict[float, recommender.Similarity] = {}
        self._trend: dict[tuple[float, int], np.ndarray] = {}
        self._values: dict[RecParams, tuple] = {}

    def __call__(self, params: RecParams):
        if params not in self._values:
            train, held = self.held.train, self.held
            if params.half_life_days not in self._similar:
                sim = recommender.similarity(train, self.catalogue, params)
                self._similar[params.half_life_days] = sim
                self._trend[(params.trend_half_life_days, params.min_users)] = sim.trend
            trend_key = (params.trend_half_life_days, params.min_users)
            if trend_key not in self._trend:
                self._trend[trend_key] = recommender.trending(train, params)
            sim = replace(self._similar[params.half_life_days], trend=self._trend[trend_key])
            recs = recommender.recommend(held.history, self.catalogue, sim, params)
            values = personal_values(
                recs.user, recs.rank, recs.item, held.truth_user, held.truth_item, train.n_items
            )
            self._values[params] = (recs, values)
        return self._values[params]


def grid(prior: float) -> tuple[float, ...]:
    """The values a learned weight is tried at besides its prior."""
    return tuple(prior * f for f in GRID_FACTORS) if prior > 0 else GRID_FROM_ZERO


def learn(scorer: _Scorer, prior: RecParams, names) -> tuple[RecParams, dict]:
    """One pass over `names`: each moves from its current value to the grid value that beats it
    most on HR@20 + MRR@20 per person, paired, and only beyond the 95 % interval widened for
    every value tried (else it stays: with few people the interval is wide and the prior is
    kept). Returns the chosen parameters and, per name, its prior, chosen value and the best
    try's gain ± half-width."""
    chosen, evidence = prior, {}
    if scorer.held.history.n_users < LEARN_MIN_PEOPLE:
        return prior, {}
    tries = max(sum(len(grid(getattr(prior, name))) for name in names), 1)
    widen = float(norm_quantile(1 - 0.025 / tries) / Z95)

    def objective(params):
        values = scorer(params)[1]
        return values["hr"] + values["mrr"]

    for name in names:
        current = objective(chosen)
        best, found = None, None
        for value in grid(getattr(prior, name)):
            gap = paired_difference(objective(replace(chosen, **{name: value})), current)
            if best is None or gap["difference"] > best["difference"]:
                best, found = gap, value
        half_width = None if best["ci95"] is None else float(best["ci95"]) * widen
        if half_width is not None and best["difference"] > half_width:
            chosen = replace(chosen, **{name: found})
        evidence[name] = {
            "prior": float(getattr(prior, name)),
            "chosen": float(getattr(chosen, name)),
            "tried": float(found),
            "gain": round(float(best["difference"]), 6),
            "ci95": None if half_width is None else round(half_width, 6),
        }
    return chosen, evidence


def holdout_quality(
    events: Interactions,
    catalogue: Catalogue,
    params: RecParams,
    holdout: Holdout,
    learned: tuple[str, ...] = (),
) -> tuple[RecParams, dict]:
    """(the parameters to use tonight, the figures): `learned` weights chosen on the split
    (learn), then HR@20, MRR@20 and coverage of the recommender with them and of trending
    popularity, on the products new to each sampled person among those they viewed, carted or
    bought in the held-back days; with the paired difference of HR (recommender - trending) and
    its 95 % interval. The figures are of the chosen weights on the split they were chosen on:
    at most the grid's few choices optimistic."""
    held = held_out(events, holdout)
    if held is None:
        # Nobody to score yet (a first night, a quiet week): no figures, the policy's weights.
        return params, {"quality_users": 0, **dict.fromkeys(FIGURES), "quality_learned": {}}
    scorer = _Scorer(held, catalogue)
    chosen, evidence = learn(scorer, params, learned)
    ours, model = scorer(chosen)
    base_user, base_rank, base_item = trending_lists(held.train, held.history, catalogue, params)
    base = personal_values(
        base_user, base_rank, base_item, held.truth_user, held.truth_item, events.n_items
    )
    gap = paired_difference(model["hr"], base["hr"])
    in_stock = max(int(catalogue.in_stock.sum()), 1)
    return chosen, {
        "quality_users": held.history.n_users,
        "quality_hr_at_20": round(float(model["hr"].mean()), 6),
        "quality_mrr_at_20": round(float(model["mrr"].mean()), 6),
        "quality_baseline_hr_at_20": round(float(base["hr"].mean()), 6),
        "quality_baseline_mrr_at_20": round(float(base["mrr"].mean()), 6),
        "quality_coverage": round(len(np.unique(ours.item)) / in_stock, 6),
        "quality_baseline_coverage": round(len(np.unique(base_item)) / in_stock, 6),
        "quality_hr_gap": round(gap["difference"], 6),
        "quality_hr_gap_ci95": None if gap["ci95"] is None else round(gap["ci95"], 6),
        "quality_learned": evidence,
    }
