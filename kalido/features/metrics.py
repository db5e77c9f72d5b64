"""Ranking metrics of recommendation lists against what people did next (offline evaluation and
the nightly self-check alike): per user or pair values, so that two methods can be compared on
the same people with a paired interval."""

from __future__ import annotations

import numpy as np

K = 20  # the email's list length: every metric is at 20
Z95 = 1.96  # the normal quantile of a two-sided 95 % interval


def personal_values(
    rec_user: np.ndarray,
    rec_rank: np.ndarray,
    rec_item: np.ndarray,
    truth_user: np.ndarray,
    truth_item: np.ndarray,
    n_items: int,
    k: int = K,
) -> dict[str, np.ndarray]:
    """Per user with a truth (in user order): hit, reciprocal rank, nDCG (binary relevance) and
    recall at k. recall@k = hits / |truth| (all the user's horizon products); ranks start at 1."""
    users, truth_count = np.unique(truth_user, return_counts=True)
    truth_keys = np.unique(truth_user.astype(np.int64) * n_items + truth_item)
    top = rec_rank <= k
    rec_user, rec_rank, rec_item = rec_user[top], rec_rank[top], rec_item[top]
    hit = np.isin(rec_user.astype(np.int64) * n_items + rec_item, truth_keys)
    slot = np.searchsorted(users, rec_user[hit])
    known = (slot < len(users)) & (users[np.minimum(slot, len(users) - 1)] == rec_user[hit])
    slot, ranks = slot[known], rec_rank[hit][known].astype(np.float64)
    first = np.full(len(users), np.inf)
    np.minimum.at(first, slot, ranks)
    hits = np.bincount(slot, minlength=len(users))
    dcg = np.bincount(slot, weights=1.0 / np.log2(ranks + 1.0), minlength=len(users))
    ideal_gains = np.cumsum(1.0 / np.log2(np.arange(1, k + 1) + 1.0))
    idcg = ideal_gains[np.minimum(truth_count, k) - 1]
    return {
        "hr": (hits > 0).astype(np.float64),
        "mrr": np.where(np.isfinite(first), 1.0 / first, 0.0),
        "ndcg": dcg / idcg,
        "recall": hits / truth_count,
    }


def personal_metrics(*args, **kwargs) -> dict[str, float]:
    """personal_values (same arguments) averaged over the users with a truth."""
    values = personal_values(*args, **kwargs)
    return {"users": len(values["hr"]), **means(values)}


def next_item_values(
    src: np.ndarray,
    rank: np.ndarray,
    dst: np.ndarray,
    current: np.ndarray,
    following: np.ndarray,
    n_items: int,
    k: int = K,
) -> dict[str, np.ndarray]:
    """Per (current, next) pair: hit and reciprocal rank at k of the next product in the current
    product's similar list."""
    top = rank <= k
    keys = src[top].astype(np.int64) * n_items + dst[top]
    order = np.argsort(keys, kind="stable")
    keys, ranks = keys[order], rank[top][order]
    if len(keys) == 0:
        return {"hr": np.zeros(len(current)), "mrr": np.zeros(len(current))}
    wanted = current.astype(np.int64) * n_items + following
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found = keys[at] == wanted
    return {
        "hr": found.astype(np.float64),
        "mrr": np.where(found, 1.0 / np.where(found, ranks[at], 1), 0.0),
    }


def next_item_metrics(*args, **kwargs) -> dict[str, float]:
    """next_item_values (same arguments) averaged over the pairs."""
    values = next_item_values(*args, **kwargs)
    return {"pairs": len(values["hr"]), **means(values)}


def means(values: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: float(v.mean()) if len(v) else 0.0 for name, v in values.items()}


def paired_difference(theirs: np.ndarray, ours: np.ndarray) -> dict:
    """Mean of theirs - ours over the same users (or pairs), with the half-width of its 95%
    confidence interval (normal approximation): whether a gap is more than the luck of the
    split. Paired, so the spread is that of the differences, far below that of either metric."""
    difference = theirs - ours
    n = len(difference)
    if n < 2:  # no spread to measure
        return {"n": n, "difference": float(difference.sum()), "ci95": None}
    spread = float(difference.std(ddof=1))
    return {"n": n, "difference": float(difference.mean()), "ci95": Z95 * spread / np.sqrt(n)}


def repeat_share(
    rec_user: np.ndarray,
    rec_rank: np.ndarray,
    rec_item: np.ndarray,
    seen_keys: np.ndarray,
    n_items: int,
    k: int = K,
) -> float:
    """Share of the list slots (ranks up to k, every listed user) holding a product the person
    had already interacted with: `seen_keys` = user * n_items + product of their history."""
    top = rec_rank <= k
    if not top.any():
        return 0.0
    keys = rec_user[top].astype(np.int64) * n_items + rec_item[top]
    return float(np.isin(keys, seen_keys).mean())


def intra_list_diversity(
    rec_user: np.ndarray,
    rec_rank: np.ndarray,
    rec_item: np.ndarray,
    category: np.ndarray,
    k: int = K,
) -> np.ndarray:
    """Per listed user with at least two products in their top k (in user order): 1 - the share
    of their list's product pairs that fall in one category (0: one category, 1: all differ)."""
    top = rec_rank <= k
    user = rec_user[top].astype(np.int64)
    cat = category[rec_item[top]].astype(np.int64)
    if len(user) == 0:
        return np.zeros(0)
    users, length = np.unique(user, return_counts=True)
    pair_keys, per_category = np.unique(user * (int(cat.max()) + 1) + cat, return_counts=True)
    owner = np.searchsorted(users, pair_keys // (int(cat.max()) + 1))
    same = np.bincount(owner, weights=per_category * (per_category - 1) / 2.0, minlength=len(users))
    pairs = length * (length - 1) / 2.0
    full = length >= 2
    return 1.0 - same[full] / pairs[full]
