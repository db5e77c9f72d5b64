"""Item-item similarity and personal recommendations on integer-coded sparse arrays.

Everything here is set-based numpy/scipy over int32 codes, never a dense item × item or
user × item matrix, so 1M users × 100k products × 10M interactions fit in seconds and a few GB.
Results depend only on the inputs (ages are measured from the logical cutoff, ties are broken by
ids), so a rerun gives identical tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

VIEW, CART, ORDER = 0, 1, 2
USER_CHUNK = 65_536  # users scored together: bounds the candidate arrays' memory


@dataclass(frozen=True)
class RecParams:
    """Tunables (kalido/policy.yaml `profiling:`)."""

    min_users: int = 5  # k: a pair is kept only when this many distinct users support it
    per_product: int = 20
    per_user: int = 20
    half_life_days: float = 30.0
    exclude_bought_days: float = 30.0
    view_weight: float = 1.0
    cart_weight: float = 3.0
    order_weight: float = 5.0
    session_window: int = 5  # co-views count when at most this many steps apart in a session
    popularity_exponent: float = 0.5  # 0.5 = cosine; higher pushes popular products down more
    history_items: int = 20  # strongest recent products of a user that seed candidates
    repeat_weight: float = 1.0  # a product the user viewed, not bought, may come back
    profile_weight: float = 0.5  # boost by the user's affinity to the product's category
    diversity_decay: float = 0.85  # each further product of one category in a list counts less


@dataclass
class Interactions:
    """Integer-coded events, sorted by (group, time): a group is a session or an order."""

    user: np.ndarray  # int32
    item: np.ndarray  # int32
    age_days: np.ndarray  # float64, days before the cutoff (>= 0)
    kind: np.ndarray  # int8: VIEW, CART, ORDER
    group: np.ndarray  # int64
    n_users: int
    n_items: int


@dataclass
class Catalogue:
    category: np.ndarray  # int32 per item
    in_stock: np.ndarray  # bool per item
    n_categories: int


@dataclass
class Similarity:
    """Top-K similar products per product, as CSR rows sorted by rank (score desc, id asc)."""

    indptr: np.ndarray
    indices: np.ndarray  # int32 similar product
    scores: np.ndarray  # float64

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(product, similar product, score, rank from 1) as flat arrays."""
        counts = np.diff(self.indptr)
        src = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        rank = np.arange(len(self.indices)) - np.repeat(self.indptr[:-1], counts) + 1
        return src, self.indices, self.scores, rank.astype(np.int32)


@dataclass
class Recommendations:
    """Flat rows; a reason is a product (because_viewed, >= 0) or else a category (popular_in)."""

    user: np.ndarray
    item: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    reason_item: np.ndarray  # int32, -1 when the reason is a category
    reason_category: np.ndarray  # int32


def event_weights(kind: np.ndarray, age_days: np.ndarray, params: RecParams) -> np.ndarray:
    """Type weight × exponential time decay (half-life in days)."""
    by_kind = np.array([params.view_weight, params.cart_weight, params.order_weight])
    return by_kind[kind] * np.exp2(-age_days / params.half_life_days)


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def _top_per_row(rows: np.ndarray, scores: np.ndarray, ties: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best (score desc, tie asc) entries of each row, in row then rank order."""
    order = np.lexsort((ties, -scores, rows))
    starts = _run_starts(rows[order])
    run_of = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return order[np.arange(len(order)) - run_of < k]


def similarity(events: Interactions, catalogue: Catalogue, params: RecParams) -> Similarity:
    """Time-decayed co-views within sessions and co-purchases within orders, popularity-normalised.

    Each distinct user counts once per pair (with their strongest co-occurrence), and a pair is
    kept only when at least `min_users` distinct users support it. Never self-similar, only
    in-stock targets, at most `per_product` per product.
    """
    n_items, n_users = events.n_items, events.n_users
    if n_items * n_items * max(n_users, 1) >= 2**63:
        raise ValueError("too many products × users for 64-bit pair keys")
    weight = event_weights(events.kind, events.age_days, params)
    item, group, user = events.item, events.group, events.user
    # A re-view of the same product in a row adds no pair.
    keep = np.r_[True, (group[1:] != group[:-1]) | (item[1:] != item[:-1])][: len(item)]
    item, group, user, weight = item[keep], group[keep], user[keep], weight[keep]
    keys, pair_weights = [], []
    for step in range(1, params.session_window + 1):
        same = group[step:] == group[:-step]
        a, b = item[:-step][same], item[step:][same]
        distinct = a != b
        a, b = a[distinct], b[distinct]
        u = user[:-step][same][distinct]
        w = (weight[:-step][same][distinct] + weight[step:][same][distinct]) / (2.0 * step)
        lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
        keys.append((lo * n_items + hi) * n_users + u)
        pair_weights.append(w)
    key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    pair_weight = np.concatenate(pair_weights) if pair_weights else np.zeros(0)
    del keys, pair_weights
    order = np.argsort(key, kind="stable")
    key, pair_weight = key[order], pair_weight[order]
    del order
    # One contribution per (pair, user): their strongest co-occurrence.
    starts = _run_starts(key)
    user_weight = np.maximum.reduceat(pair_weight, starts) if len(starts) else pair_weight
    pair = key[starts] // n_users
    del key, pair_weight
    pair_starts = _run_starts(pair)
    supporters = np.diff(np.r_[pair_starts, len(pair)])
    total = np.add.reduceat(user_weight, pair_starts) if len(pair_starts) else user_weight
    pair = pair[pair_starts]
    supported = supporters >= params.min_users
    pair, total = pair[supported], total[supported]
    lo, hi = (pair // n_items).astype(np.int32), (pair % n_items).astype(np.int32)
    popularity = np.bincount(
        events.item, weights=event_weights(events.kind, events.age_days, params), minlength=n_items
    )
    norm = np.power(np.maximum(popularity, 1e-12), params.popularity_exponent)
    score = total / (norm[lo] * norm[hi])
    src, dst = np.r_[lo, hi], np.r_[hi, lo]
    score = np.r_[score, score]
    # Lists are topped up with the most popular products of the same category (each seen by at
    # least k distinct users, so no filler reveals one person), scored below any co-occurrence.
    seen_by = np.diff(
        sp.csr_matrix(
            (np.ones(len(events.item)), (events.item, events.user)),
            shape=(n_items, max(n_users, 1)),
        ).indptr
    )
    eligible = np.flatnonzero(catalogue.in_stock & (seen_by >= params.min_users))
    cat = catalogue.category
    best = eligible[
        _top_per_row(cat[eligible], popularity[eligible], eligible, params.per_product + 1)
    ]
    cat_indptr = np.r_[0, np.cumsum(np.bincount(cat[best], minlength=catalogue.n_categories))]
    every = np.arange(n_items)
    owner, pos = _expand(cat_indptr, cat.astype(np.int64))
    fill_src, fill_dst = every[owner].astype(np.int32), best[pos].astype(np.int32)
    floor = score.min(initial=1.0) / 2.0
    fill_score = floor * popularity[fill_dst] / max(popularity.max(initial=0.0), 1e-12)
    src, dst = np.r_[src, fill_src], np.r_[dst, fill_dst]
    score = np.r_[score, fill_score]
    keep = (src != dst) & catalogue.in_stock[dst]
    src, dst, score = src[keep], dst[keep], score[keep]
    key = src.astype(np.int64) * n_items + dst
    order = np.lexsort((-score, key))
    first = order[_run_starts(key[order])]
    src, dst, score = src[first], dst[first], score[first]
    top = _top_per_row(src, score, dst, params.per_product)
    src, dst, score = src[top], dst[top], score[top]
    indptr = np.r_[0, np.cumsum(np.bincount(src, minlength=n_items))].astype(np.int64)
    return Similarity(indptr=indptr, indices=dst.astype(np.int32), scores=score)


def _history(history: Interactions, params: RecParams) -> sp.csr_matrix:
    """User × product recency-weighted signal, summed per pair (sparse)."""
    weight = event_weights(history.kind, history.age_days, params)
    matrix = sp.csr_matrix(
        (weight, (history.user, history.item)), shape=(history.n_users, history.n_items)
    )
    matrix.sum_duplicates()
    return matrix


def _expand(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row r in `rows`: (index into `rows`, position in the CSR data) of its entries."""
    counts = indptr[rows + 1] - indptr[rows]
    owner = np.repeat(np.arange(len(rows)), counts)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, indptr[rows][owner] + offset


def recommend(
    history: Interactions,
    catalogue: Catalogue,
    sim: Similarity,
    params: RecParams,
) -> Recommendations:
    """`per_user` products per user (every user code in range), with a reason each.

    Candidates: neighbours of the user's strongest recent products (recency × similarity) and the
    products the user viewed lately, boosted by the user's category affinity; then popular
    products of the user's top category, then popular products overall, so lists are full.
    Nothing bought in the last `exclude_bought_days` days, nothing out of stock; a soft diversity
    penalty keeps one category from filling a list.
    """
    n_users, n_items = history.n_users, history.n_items
    if n_users == 0:
        empty = np.zeros(0, dtype=np.int32)
        return Recommendations(empty, empty, np.zeros(0), empty, empty, empty)
    signal = _history(history, params)
    bought = history.kind == ORDER
    recent = bought & (history.age_days <= params.exclude_bought_days)
    excluded = np.unique(history.user[recent].astype(np.int64) * n_items + history.item[recent])
    # Category affinity per user, scaled to 1 for the user's top category.
    cat_of = catalogue.category
    signal_rows = np.repeat(np.arange(n_users), np.diff(signal.indptr))
    profile = sp.csr_matrix(
        (signal.data, (signal_rows, cat_of[signal.indices])),
        shape=(n_users, catalogue.n_categories),
    )
    profile.sum_duplicates()
    profile_rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(profile.indptr))
    top_max = np.ones(n_users)
    has = np.diff(profile.indptr) > 0
    if profile.nnz:
        top_max[has] = np.maximum.reduceat(profile.data, profile.indptr[:-1][has])
    profile_keys = profile_rows * catalogue.n_categories + profile.indices
    profile_aff = profile.data / top_max[profile_rows]
    top_category = np.full(n_users, -1, dtype=np.int64)
    best = _top_per_row(profile_rows, profile.data, profile.indices, 1)
    top_category[profile_rows[best]] = profile.indices[best]
    # Popularity for fallbacks: recency-weighted, in-stock only.
    popularity = np.bincount(
        history.item,
        weights=event_weights(history.kind, history.age_days, params),
        minlength=n_items,
    )
    popularity = np.where(catalogue.in_stock, popularity, -1.0)
    stock = np.flatnonzero(catalogue.in_stock)
    depth = params.per_user + int(np.bincount(excluded // n_items).max(initial=0))
    # Deep enough that a user's recent purchases cannot empty it.
    depth = params.per_user + int(np.bincount(excluded // n_items).max(initial=0))
    global_top = stock[
        _top_per_row(np.zeros(len(stock), np.int32), popularity[stock], stock, depth)
    ]
    by_category = _top_per_row(cat_of[stock], popularity[stock], stock, params.per_user)
    cat_items = stock[by_category]
    cat_indptr = np.r_[
        0, np.cumsum(np.bincount(cat_of[cat_items], minlength=catalogue.n_categories))
    ]
    pop_scale = 1e-6 / max(popularity.max(initial=0.0), 1e-12)

    def fallback(users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Popular products of each user's top category, then popular products overall."""
        tc = top_category[users]
        owner, pos = _expand(cat_indptr, np.maximum(tc, 0))
        owner, pos = owner[tc[owner] >= 0], pos[tc[owner] >= 0]
        u = np.r_[users[owner], np.repeat(users, len(global_top))]
        i = np.r_[cat_items[pos], np.tile(global_top, len(users))].astype(np.int64)
        s = np.r_[
            2 * pop_scale * popularity[cat_items[pos]],
            pop_scale * popularity[np.tile(global_top, len(users))],
        ]
        ok = ~np.isin(u * n_items + i, excluded)
        return u[ok], i[ok], s[ok]

    def _fill(u, i, r, s, first, last, make, per_user):
        """Users with fewer than per_user products get fallback rows after their own."""
        counts = np.bincount(u - first, minlength=last - first)
        short = np.flatnonzero(counts < per_user) + first
        if len(short) == 0:
            return u, i, r, s
        fu, fi, fs = make(short)
        fs = fs * 1e-3 * s.min(initial=1.0) / max(fs.max(initial=0.0), 1e-300)
        u2, i2 = np.r_[u, fu], np.r_[i, fi]
        s2, r2 = np.r_[s, fs], np.r_[r, np.full(len(fu), -1, dtype=np.int64)]
        key = u2 * n_items + i2
        order = np.lexsort((-s2, key))
        first_rows = order[_run_starts(key[order])]
        u2, i2, s2, r2 = u2[first_rows], i2[first_rows], s2[first_rows], r2[first_rows]
        top = _top_per_row(u2, s2, i2, per_user)
        return u2[top], i2[top], r2[top], s2[top]

    out = []
    for first in range(0, n_users, USER_CHUNK):
        last = min(first + USER_CHUNK, n_users)
        block = signal[first:last]
        users = np.repeat(np.arange(first, last, dtype=np.int64), np.diff(block.indptr))
        seeds, strength = block.indices, block.data
        keep = _top_per_row(users, strength, seeds, params.history_items)
        users, seeds, strength = users[keep], seeds[keep], strength[keep]
        owner, pos = _expand(sim.indptr, seeds)
        cand_user = [users[owner], users]
        cand_item = [sim.indices[pos], seeds]
        cand_score = [strength[owner] * sim.scores[pos], params.repeat_weight * strength]
        cand_reason = [seeds[owner], seeds]
        u = np.concatenate(cand_user)
        i = np.concatenate(cand_item).astype(np.int64)
        s = np.concatenate(cand_score)
        r = np.concatenate(cand_reason).astype(np.int64)
        key = u * n_items + i
        ok = catalogue.in_stock[i] & ~np.isin(key, excluded)
        key, u, i, s, r = key[ok], u[ok], i[ok], s[ok], r[ok]
        # One row per (user, product): scores add up; the reason is the strongest contribution.
        order = np.lexsort((-s, key))
        key, u, i, s, r = key[order], u[order], i[order], s[order], r[order]
        starts = _run_starts(key)
        total = np.add.reduceat(s, starts) if len(starts) else s
        u, i, r = u[starts], i[starts], r[starts]
        cat = cat_of[i].astype(np.int64)
        pk = u * catalogue.n_categories + cat
        aff = np.zeros(len(pk))
        if len(profile_keys):
            at = np.minimum(np.searchsorted(profile_keys, pk), len(profile_keys) - 1)
            found = profile_keys[at] == pk
            aff[found] = profile_aff[at[found]]
        total = total * (1.0 + params.profile_weight * aff)
        # Soft diversity: the n-th product of a category in a user's ranking counts decay^n.
        top = _top_per_row(u, total, i, 3 * params.per_user)
        u, i, r, total, cat = u[top], i[top], r[top], total[top], cat[top]
        within = np.lexsort((np.arange(len(u)), cat, u))
        seq_starts = _run_starts((u * catalogue.n_categories + cat)[within])
        nth = np.empty(len(u), dtype=np.int64)
        run_of = np.repeat(seq_starts, np.diff(np.r_[seq_starts, len(within)]))
        nth[within] = np.arange(len(within)) - run_of
        adjusted = total * np.power(params.diversity_decay, nth)
        top = _top_per_row(u, adjusted, i, params.per_user)
        u, i, r, adjusted = u[top], i[top], r[top], adjusted[top]
        u, i, r, adjusted = _fill(u, i, r, adjusted, first, last, fallback, params.per_user)
        rank_starts = _run_starts(u)
        rank = np.arange(len(u)) - np.repeat(rank_starts, np.diff(np.r_[rank_starts, len(u)])) + 1
        out.append((u, i, adjusted, rank, r))
    u, i, s, rank, r = (np.concatenate(parts) for parts in zip(*out, strict=True))
    return Recommendations(
        user=u.astype(np.int32),
        item=i.astype(np.int32),
        score=s,
        rank=rank.astype(np.int32),
        reason_item=r.astype(np.int32),
        reason_category=cat_of[i].astype(np.int32),
    )
