"""Item-item similarity and personal recommendations on integer-coded sparse arrays.

Everything here is set-based numpy/scipy over int32 codes, never a dense item × item or
user × item matrix, so 1M users × 100k products × 10M interactions fit in seconds and a few GB.
Results depend only on the inputs (ages are measured from the logical cutoff, ties are broken by
ids), so a rerun gives identical tables.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

VIEW, CART, ORDER = 0, 1, 2
USER_CHUNK = 16_384  # users scored together: bounds the candidate arrays' memory
# Pair keys are reduced in this many key ranges, two at a time: the fewer at a time, the less
# of the keys is held sorted and unsorted at once (halves: 3.4 GB at bench-recs, window 10).
SUPPORT_PARTS = 4
TOP_CATEGORIES = 3  # a user's categories whose popular products blend into their list
# A person's event counts in the trends for this many half-lives (its weight is 1/16 by then), and
# k is counted among the people of that horizon: a trend is what at least k people did lately.
TREND_HALF_LIVES = 4.0


@dataclass(frozen=True)
class RecParams:
    """Tunables (kalido/policy.yaml `profiling:`)."""

    min_users: int = 5  # k: a pair is kept only when this many distinct users support it
    per_product: int = 20
    per_user: int = 20
    half_life_days: float = 30.0
    exclude_bought_days: float = 30.0
    exclude_viewed_days: float = 30.0  # discovery: nothing viewed or carted this recently
    view_weight: float = 1.0
    cart_weight: float = 3.0
    order_weight: float = 5.0
    session_window: int = 5  # co-views count when at most this many steps apart in a session
    coview_window_days: float = 0.0  # pairs come from this many last days (0: every day kept)
    cross_session_weight: float = 0.0  # the same steps across a person's sessions, weighted
    two_hop_weight: float = 0.0  # lists borrow their neighbours' lists, up to this share
    popularity_exponent: float = 0.25  # similar score / popularity^x: popular ones don't swamp
    history_items: int = 20  # strongest recent products of a user that seed candidates
    repeat_weight: float = 0.5  # a product the user viewed, not bought, may come back
    profile_weight: float = 1.0  # the category model's weight against the item model's
    diversity_decay: float = 0.85  # each further product of one category in a list counts less
    diversity_max_share: float = 0.0  # a category's free share of a list: the user's interest
    # in it, at most this (0: the penalty starts at every category's second product)
    category_prior: float = 20.0  # pseudo-counts spread over the category in similar lists
    trend_weight: float = 0.0  # the trend model's weight (what is rising in the top categories)
    trend_half_life_days: float = 3.0  # decay of a person's event in the trend counts


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
    popularity: np.ndarray | None = None  # per product, in people: the profile model's ranking
    trend: np.ndarray | None = None  # per product, recent people held to k (trending())

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(product, similar product, score, rank from 1) as flat arrays."""
        counts = np.diff(self.indptr)
        src = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        rank = np.arange(len(self.indices)) - np.repeat(self.indptr[:-1], counts) + 1
        return src, self.indices, self.scores, rank.astype(np.int32)


@dataclass
class Fallback:
    """Products per category and overall, in stock, best first by `popularity` (all-time for the
    profile model; trending, then all-time, for the trend model and the fill)."""

    popularity: np.ndarray
    top: np.ndarray  # the overall ranking, deep enough for any user
    in_cat_top: np.ndarray  # bool per product: on its category's list
    cat_lists: np.ndarray  # categories × per_user products, -1 padded, best first
    cat_of: np.ndarray
    share: np.ndarray  # a product's share of its category's popularity


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
    """Time-decayed co-views within sessions (and, weighted less, across a person's sessions)
    and co-purchases within orders, popularity-normalised.

    Each distinct user counts once per pair (with their strongest co-occurrence), and a pair is
    kept only when at least `min_users` distinct users support it; lists then borrow from
    their neighbours' lists (kept pairs only). Never self-similar, only in-stock targets, at most
    `per_product` per product.
    """
    n_items, n_users = events.n_items, events.n_users
    if n_items * n_items * max(n_users, 1) >= 2**63:
        raise ValueError("too many products × users for 64-bit pair keys")
    weight = event_weights(events.kind, events.age_days, params)
    item, group, user, age = events.item, events.group, events.user, events.age_days
    if params.coview_window_days > 0:
        # Pairs from the last days only: the night's pair work stops growing with the history
        # kept (popularity and trends still count every event).
        recent = age < params.coview_window_days
        item, group, user, age, weight = (a[recent] for a in (item, group, user, age, weight))
    # A re-view of the same product in a row adds no pair.
    keep = np.r_[True, (group[1:] != group[:-1]) | (item[1:] != item[:-1])][: len(item)]
    item, group, user, age, weight = (a[keep] for a in (item, group, user, age, weight))
    shape = (n_items, n_users)
    keys, pair_weights = _window_pairs(item, group, user, weight, params.session_window, shape)
    if params.cross_session_weight > 0:
        # The same person's products in different sessions (days apart, say) are related too,
        # more weakly: counted by the person, they bring pairs over the k threshold on thin logs.
        order = np.lexsort((-age, user))
        across = _window_pairs(
            item[order],
            user[order],
            user[order],
            weight[order],
            params.session_window,
            shape,
            skip_same=group[order],
            scale=params.cross_session_weight,
        )
        keys, pair_weights = keys + across[0], pair_weights + across[1]
        del order, across
    # Key ranges cut at pair boundaries are disjoint sets of pairs: reduced on two cores (numpy's
    # sorts release the GIL) and joined in key order, they give the one-pass result. (A cut
    # inside a pair's run of users split its support in two.)
    sample = np.sort(np.concatenate([k[::101] for k in keys]) if keys else np.zeros(0, np.int64))
    cuts = sample[len(sample) * np.arange(1, SUPPORT_PARTS) // SUPPORT_PARTS] if len(sample) else []
    cuts = np.unique(np.asarray(cuts, dtype=np.int64) // max(n_users, 1) * max(n_users, 1))
    del sample
    ranges = tuple(([], []) for _ in range(len(cuts) + 1))
    while keys:  # piece by piece, so that only one piece is held twice
        key, pair_weight = keys.pop(), pair_weights.pop()
        where = np.searchsorted(cuts, key, side="right")
        for number, (range_keys, range_weights) in enumerate(ranges):
            mask = where == number
            range_keys.append(key[mask])
            range_weights.append(pair_weight[mask])
        del key, pair_weight, where, mask
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(
            pool.map(lambda part: _supported_pairs(*part, n_users, params.min_users), ranges)
        )
    del ranges
    pair, total = np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts])
    del parts
    lo, hi = (pair // n_items).astype(np.int32), (pair % n_items).astype(np.int32)
    del pair
    audience = _audience(events, params)
    src, dst = np.r_[lo, hi], np.r_[hi, lo]
    count = np.r_[total, total]
    del lo, hi, total
    if params.two_hop_weight > 0:
        # Neighbours of neighbours: made only of k-supported pairs, so they reveal nobody. They
        # lengthen the short lists the threshold leaves on thin logs, and a full list gains what
        # its strongest neighbours are seen with (README: every row, not only short ones).
        hop_src, hop_dst, hop_count = _two_hop(src, dst, count, n_items, params)
        src, dst, count = np.r_[src, hop_src], np.r_[dst, hop_dst], np.r_[count, hop_count]
        del hop_src, hop_dst, hop_count
    # Candidates beside the co-occurring products: the category's most popular products, then the
    # most popular overall. Popularity is counted in people, so it never reveals one person's pair.
    stock = np.flatnonzero(catalogue.in_stock & (audience > 0))
    cat = catalogue.category.astype(np.int64)
    depth = params.per_product + 1  # one more: a product's own entry is dropped
    best = stock[_top_per_row(cat[stock], audience[stock], stock, depth)]
    cat_indptr = np.r_[0, np.cumsum(np.bincount(cat[best], minlength=catalogue.n_categories))]
    owner, pos = _expand(cat_indptr, cat)
    overall = stock[_top_per_row(np.zeros(len(stock), np.int32), audience[stock], stock, depth)]
    n_pairs = len(src)
    src = np.r_[src, owner, np.repeat(np.arange(n_items), len(overall))].astype(np.int32)
    dst = np.r_[dst, best[pos], np.tile(overall, n_items)].astype(np.int32)
    del owner, pos
    count = np.r_[count, np.zeros(len(src) - n_pairs)]
    keep = (src != dst) & catalogue.in_stock[dst]
    src, dst, count = src[keep], dst[keep], count[keep]
    del keep
    # One row per (product, candidate); the category fill may repeat a co-occurring product.
    key = src.astype(np.int64) * n_items + dst
    order = np.argsort(key, kind="stable")
    starts = _run_starts(key[order])
    del key
    count = np.add.reduceat(count[order], starts) if len(starts) else count
    src, dst = src[order[starts]], dst[order[starts]]
    del order, starts
    # Smoothed P(next = dst | src): co-occurrence mass plus `category_prior` pseudo-counts spread
    # over the category by popularity share, so sparse rows lean on the category and dense
    # rows on their own evidence; then divided by dst's popularity^x so hits don't swamp.
    row_mass = np.bincount(src, weights=count, minlength=n_items)
    cat_audience = np.bincount(cat, weights=audience, minlength=catalogue.n_categories)
    share = np.where(
        cat[src] == cat[dst], audience[dst] / np.maximum(cat_audience[cat[dst]], 1e-12), 0.0
    )
    prior = params.category_prior
    score = (count + prior * share) / (row_mass[src] + prior + 1e-12)
    score /= np.power(np.maximum(audience[dst], 1e-12), params.popularity_exponent)
    # The rest (popular overall) rank below, by popularity.
    rest = score <= 0
    score[rest] = (
        1e-9
        * score.min(where=~rest, initial=1.0)
        * audience[dst[rest]]
        / max(audience.max(initial=0.0), 1e-12)
    )
    top = _top_per_row(src, score, dst, params.per_product)
    src, dst, score = src[top], dst[top], score[top]
    indptr = np.r_[0, np.cumsum(np.bincount(src, minlength=n_items))].astype(np.int64)
    return Similarity(
        indptr=indptr,
        indices=dst.astype(np.int32),
        scores=score,
        popularity=audience,
        trend=trending(events, params),
    )


def _supported_pairs(keys, pair_weights, n_users: int, min_users: int):
    """(pair key, summed weight) of the pairs at least `min_users` distinct users support, in
    key order; each user counts once per pair, with their strongest co-occurrence."""
    key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    pair_weight = np.concatenate(pair_weights) if pair_weights else np.zeros(0)
    keys.clear()
    pair_weights.clear()
    # The reductions below do not depend on the order of equal keys: no stable sort needed.
    order = np.argsort(key)
    key, pair_weight = key[order], pair_weight[order]
    del order
    starts = _run_starts(key)
    user_weight = np.maximum.reduceat(pair_weight, starts) if len(starts) else pair_weight
    pair = key[starts] // n_users
    del key, pair_weight
    pair_starts = _run_starts(pair)
    supporters = np.diff(np.r_[pair_starts, len(pair)])
    total = np.add.reduceat(user_weight, pair_starts) if len(pair_starts) else user_weight
    supported = supporters >= min_users
    return pair[pair_starts][supported], total[supported]


def _window_pairs(item, group, user, weight, window, shape, skip_same=None, scale=1.0):
    """Lists of (pair-and-user keys, weights) of the products at most `window` steps apart in a
    group; with `skip_same`, only the pairs whose two events differ there (another session)."""
    n_items, n_users = shape
    keys, weights = [], []
    for step in range(1, window + 1):
        same = group[step:] == group[:-step]
        if skip_same is not None:
            same &= skip_same[step:] != skip_same[:-step]
        first = np.flatnonzero(same)
        first = first[item[first] != item[first + step]]
        a, b = item[first], item[first + step]
        lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
        keys.append((lo * n_items + hi) * n_users + user[first])
        weights.append((weight[first] + weight[first + step]) * (scale / (2.0 * step)))
    return keys, weights


def _two_hop(src, dst, count, n_items: int, params: RecParams):
    """(product, product, pseudo-count): what a product's strongest neighbours are seen with,
    at most `two_hop_weight` times the row's own mass in total."""
    direct = _csr(src, dst, count, (n_items, n_items))
    mass = np.asarray(direct.sum(axis=1)).ravel()
    strongest = _top_k_entries(direct, params.per_product)
    strongest = sp.diags(1.0 / np.maximum(mass, 1e-12)) @ strongest  # P(neighbour | product)
    hops = (sp.diags(params.two_hop_weight * mass) @ strongest) @ strongest
    hops = hops.tocoo()
    return hops.row.astype(np.int32), hops.col.astype(np.int32), hops.data


def _audience(events: Interactions, params: RecParams) -> np.ndarray:
    """Popularity in people: per product, each user counts at most once, less when long ago."""
    return _people(events.item, events.user, events.age_days, params.half_life_days, events)[0]


def _people(item, user, age_days, half_life, events: Interactions):
    """(decayed people, distinct people) per product: each user counts at most once."""
    per_user = sp.csr_matrix(
        (np.exp2(-age_days / half_life), (item, user)),
        shape=(events.n_items, max(events.n_users, 1)),
    )
    per_user.sum_duplicates()
    counts = np.diff(per_user.indptr)
    rows = np.repeat(np.arange(events.n_items), counts)
    weight = np.bincount(rows, weights=np.minimum(per_user.data, 1.0), minlength=events.n_items)
    return weight, counts


def trending(events: Interactions, params: RecParams) -> np.ndarray:
    """What is rising: per product, the people of its last TREND_HALF_LIVES half-lives, each
    once and decayed by `trend_half_life_days`; 0 below `min_users` distinct people (k), so a
    trend never shows what fewer than k people did."""
    recent = events.age_days < TREND_HALF_LIVES * params.trend_half_life_days
    weight, people = _people(
        events.item[recent],
        events.user[recent],
        events.age_days[recent],
        params.trend_half_life_days,
        events,
    )
    weight[people < params.min_users] = 0.0
    return weight


def _expand(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row r in `rows`: (index into `rows`, position in the CSR data) of its entries."""
    counts = indptr[rows + 1] - indptr[rows]
    owner = np.repeat(np.arange(len(rows)), counts)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, indptr[rows][owner] + offset


def _csr(rows, cols, values, shape) -> sp.csr_matrix:
    """A canonical CSR (duplicates summed, column indices sorted within rows)."""
    matrix = sp.csr_matrix((values, (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def _keep_entries(matrix: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """The entries where `keep` is true (row order and column order preserved)."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))[keep]
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=matrix.shape[0]))]
    return sp.csr_matrix(
        (matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape, copy=False
    )


def _top_entries(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's k largest entries (ties: lower column first); only long rows are sorted."""
    counts = np.diff(matrix.indptr)
    long_rows = np.flatnonzero(counts > k)
    if len(long_rows) == 0:
        return matrix
    keep = np.ones(matrix.nnz, dtype=bool)
    owner, pos = _expand(matrix.indptr, long_rows)
    keep[pos] = False
    best = _top_per_row(owner, matrix.data[pos], matrix.indices[pos], k)
    keep[pos[best]] = True
    return _keep_entries(matrix, keep)


def _padded(matrix: sp.csr_matrix, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of each row left-aligned in 2-D arrays; padding column -1, value fill."""
    counts = np.diff(matrix.indptr)
    width = int(counts.max(initial=0))
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    slot = np.arange(matrix.nnz) - matrix.indptr[rows]
    cols = np.full((matrix.shape[0], width), -1, dtype=np.int64)
    values = np.full((matrix.shape[0], width), fill)
    cols[rows, slot] = matrix.indices
    values[rows, slot] = matrix.data
    return cols, values


def _top_k_entries(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's k largest entries, ties to the lower column (sorted columns expected)."""
    counts = np.diff(matrix.indptr)
    threshold = np.full(matrix.shape[0], -np.inf)
    width = k
    # Rows are padded in bands of doubling width, so padding never costs more than the data.
    while (counts > width).any():
        band = np.flatnonzero((counts > width) & (counts <= 2 * width))
        width *= 2
        if len(band) == 0:
            continue
        owner, pos = _expand(matrix.indptr, band)
        values = np.full((len(band), width), -np.inf)
        values[owner, pos - matrix.indptr[band][owner]] = matrix.data[pos]
        threshold[band] = np.partition(values, width - k, axis=1)[:, width - k]
    if not np.isfinite(threshold).any():
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    above = matrix.data > threshold[rows]
    # Ties at the threshold: the lower columns (they come first) fill the row up to k.
    tied = matrix.data == threshold[rows]
    tied_before = np.r_[0, np.cumsum(tied)]
    tied_rank = tied_before[:-1] - tied_before[matrix.indptr[:-1]][rows]
    room = k - np.bincount(rows[above], minlength=matrix.shape[0])
    return _keep_entries(matrix, above | (tied & (tied_rank < room[rows])))


def _sorted_rows(cols: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row ordered by value desc, then column asc."""
    order = np.lexsort((cols, -values), axis=1)
    return np.take_along_axis(cols, order, axis=1), np.take_along_axis(values, order, axis=1)


def _nth_in_category(items: np.ndarray, values: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """For each cell, how many better cells (value desc, item asc) of its row share its category."""
    n, width = items.shape
    if width == 0:
        return np.zeros((n, 0), dtype=np.int64)
    order = np.lexsort((items, -values, categories), axis=1)
    ordered = np.take_along_axis(categories, order, axis=1)
    position = np.broadcast_to(np.arange(width), (n, width))
    new_run = np.ones((n, width), dtype=bool)
    new_run[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run_start = np.maximum.accumulate(np.where(new_run, position, 0), axis=1)
    nth = np.empty((n, width), dtype=np.int64)
    np.put_along_axis(nth, order, position - run_start, axis=1)
    return nth


def excluded_pairs(history: Interactions, params: RecParams) -> tuple[np.ndarray, np.ndarray]:
    """(user, product) of what a user may not be recommended: bought within
    `exclude_bought_days`, viewed or carted within `exclude_viewed_days` (lists are for
    discovery: a product the person just saw is a reminder, another email)."""
    seen = (history.kind != ORDER) & (history.age_days <= params.exclude_viewed_days)
    bought = (history.kind == ORDER) & (history.age_days <= params.exclude_bought_days)
    either = seen | bought
    return history.user[either], history.item[either]


def item_popularity(history: Interactions, params: RecParams) -> np.ndarray:
    """Recency-weighted popularity of each product over every user's history (the fallbacks)."""
    weight = event_weights(history.kind, history.age_days, params)
    return np.bincount(history.item, weights=weight, minlength=history.n_items)


def recommend(
    history: Interactions,
    catalogue: Catalogue,
    sim: Similarity,
    params: RecParams,
) -> Recommendations:
    """`per_user` products per user (every user code in range), with a reason each.

    Scores = the user's strongest recent products (recency-weighted, sparse user × product)
    times the sparse top-K similarity, plus the products the user viewed lately, blended with
    the popular and the trending products of the user's top categories; then what is trending in
    the user's top category, then overall (then popular), so lists are full. Nothing excluded
    (excluded_pairs: bought, or viewed lately), nothing out of stock; a soft diversity penalty
    keeps one category from filling a list. The `because_viewed` reason is looked up only for
    the final products. A user's list depends only on their own history and on `sim` (whose
    popularity and trends, counted over every user, rank the category models and the fallbacks;
    without them, those over `history`), so users can be scored in shards.
    """
    n_users, n_items, n_cats = history.n_users, history.n_items, catalogue.n_categories
    if n_users == 0:
        empty = np.zeros(0, dtype=np.int32)
        return Recommendations(empty, empty, np.zeros(0), empty, empty, empty)
    weight = event_weights(history.kind, history.age_days, params)
    signal = _csr(history.user, history.item, weight, (n_users, n_items))
    seeds = _top_entries(signal, params.history_items)
    in_stock = catalogue.in_stock
    repeat = seeds.copy()
    repeat.data = repeat.data * (params.repeat_weight * in_stock[repeat.indices])
    # A copy: sorting the columns in place would reorder the caller's ranked lists.
    similar = sp.csr_matrix(
        (sim.scores, sim.indices, sim.indptr), shape=(n_items, n_items), copy=True
    )
    similar.sum_duplicates()
    similar = _keep_entries(similar, in_stock[similar.indices])
    # Each seed hands on its similar products' scores as they are: a seed with strong evidence
    # counts more than one whose row is thin (a few pairs, the category prior). One scale for
    # every row (the mean row total) keeps the item model comparable with the re-view chance and
    # the category model. (Each seed handing on one unit did worse on the real logs: README.)
    totals = np.asarray(similar.sum(axis=1)).ravel()
    if (totals > 0).any():
        similar = similar * (1.0 / totals[totals > 0].mean())
    excluded_users, excluded_items = excluded_pairs(history, params)
    excluded = _csr(excluded_users, excluded_items, np.ones(len(excluded_users)), signal.shape)
    excluded.data[:] = 1.0
    cat_of = catalogue.category.astype(np.int64)
    profile = (
        signal @ _csr(np.arange(n_items), cat_of, np.ones(n_items), (n_items, n_cats))
    ).tocsr()
    # From the similarity's side (every user), so a user's list depends only on their history.
    popularity = item_popularity(history, params) if sim.popularity is None else sim.popularity
    trend = trending(history, params) if sim.trend is None else sim.trend
    stock = np.flatnonzero(in_stock)
    popular = _ranking(popularity, popularity, cat_of, stock, n_cats, params.per_user)
    # Trending first, then (for the products no k people did anything with lately) all-time
    # popularity, far below any trend: what fills a short list and what the trend model ranks.
    fill_order = trend / max(float(trend.max(initial=0.0)), 1e-300)
    fill_order += 1e-9 * popularity / max(float(popularity.max(initial=0.0)), 1e-300)
    trends = _ranking(fill_order, trend, cat_of, stock, n_cats, params.per_user)

    def score(first: int):
        users = slice(first, min(first + USER_CHUNK, n_users))
        return _recommend_chunk(
            users, seeds, repeat, similar, excluded, profile, cat_of, popular, trends, params
        )

    # Slices of users on every core: numpy and scipy's sparse kernels release the GIL. The
    # slices come back in order, so the result does not depend on the threads.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        parts = list(pool.map(score, range(0, n_users, USER_CHUNK)))
    u, i, s, rank, r = (np.concatenate(columns) for columns in zip(*parts, strict=True))
    del parts
    return Recommendations(
        user=u,
        item=i,
        score=s,
        rank=rank,
        reason_item=r,
        reason_category=cat_of[i].astype(np.int32),
    )


def _ranking(order, share_of, cat_of, stock, n_cats: int, per_category: int) -> Fallback:
    """In-stock products by `order` (desc, id asc): overall, and per category its best
    `per_category`, with each product's share of its category's `share_of`."""
    # Every in-stock product overall, so that no user's list depends on the other users scored
    # with it; deep enough that a user's own and recently bought products cannot empty it.
    top = stock[_top_per_row(np.zeros(len(stock), np.int32), order[stock], stock, len(stock))]
    cat_top = stock[_top_per_row(cat_of[stock], order[stock], stock, per_category)]
    in_cat_top = np.zeros(len(order), dtype=bool)
    in_cat_top[cat_top] = True
    cat_indptr = np.r_[0, np.cumsum(np.bincount(cat_of[cat_top], minlength=n_cats))]
    cat_width = int(np.diff(cat_indptr).max(initial=0))
    cat_lists = np.full((n_cats, cat_width), -1, dtype=np.int64)
    cat_rows = np.repeat(np.arange(n_cats), np.diff(cat_indptr))
    cat_lists[cat_rows, np.arange(len(cat_top)) - cat_indptr[cat_rows]] = cat_top
    cat_total = np.bincount(cat_of[stock], weights=share_of[stock], minlength=n_cats)
    share = share_of / np.maximum(cat_total[cat_of], 1e-300)
    return Fallback(order, top, in_cat_top, cat_lists, cat_of, share)


def _recommend_chunk(
    users, seeds, repeat, similar, excluded, profile, cat_of, popular, trends, params
):
    """Flat (user, item, score, rank, reason item) rows of one slice of users."""
    per_user, n_cats = params.per_user, profile.shape[1]
    first = users.start
    block = seeds[users]
    # Item model: the user's seeds (weights summing to 1) pass on their similar products' scores
    # and their own re-view chance; category models: the user's top categories (by affinity
    # share) pass on their popular products' shares (profile) and their trending products'
    # shares (trend); the three are blended.
    seed_total = np.asarray(block.sum(axis=1)).ravel()
    scores = (
        sp.diags(1.0 / np.maximum(seed_total, 1e-300)) @ (block @ similar + repeat[users])
    ).tocsr()
    # The user's interest: each category's share of their recency-weighted signal.
    interest = profile[users]
    interest_total = np.asarray(interest.sum(axis=1)).ravel()
    interest = (sp.diags(1.0 / np.maximum(interest_total, 1e-300)) @ interest).tocsr()
    category_model, top_category = _category_model(interest, popular)
    scores = scores + params.profile_weight * category_model
    del category_model
    if params.trend_weight > 0:
        # The same top categories, their products by what is trending in them lately.
        scores = scores + params.trend_weight * _category_model(interest, trends)[0]
    scores.sum_duplicates()
    scores = scores - scores.multiply(excluded[users])
    scores.eliminate_zeros()
    scores.sort_indices()
    # Candidates: the best 3 × per_user. Diversity calibrated to the user: a category's quota
    # is its interest share (at most diversity_max_share) of the list, at least one product;
    # past it, the n-th further product of the category counts decay^n. A one-category shopper
    # keeps most of the list in it, others get lists in proportion to their interests.
    items, values = _padded(_top_k_entries(scores, 3 * per_user), -np.inf)
    categories = np.where(items >= 0, cat_of[np.maximum(items, 0)], n_cats)
    share = _lookup(interest, np.where(items >= 0, categories, -1))
    quota = np.maximum(np.ceil(per_user * np.minimum(share, params.diversity_max_share)), 1)
    beyond = np.maximum(_nth_in_category(items, values, categories) + 1 - quota, 0)
    values = values * np.power(params.diversity_decay, beyond)
    items, values = _sorted_rows(items, values)
    items, values = items[:, :per_user], values[:, :per_user]
    reasons = _reasons(block, similar, items, params.repeat_weight)
    own = items >= 0
    # Per user, so a list never depends on who else is scored in the same call.
    floor = 1e-3 * np.where(own, values, np.inf).min(axis=1, initial=np.inf)
    floor[~np.isfinite(floor)] = 1e-3
    items, values, reasons = _fill(
        items, values, reasons, own, excluded[users], top_category, trends, floor, per_user
    )
    valid = items >= 0
    rank = np.broadcast_to(np.arange(1, items.shape[1] + 1), items.shape)
    user = np.broadcast_to(np.arange(first, users.stop)[:, None], items.shape)
    # int32 before the slices are gathered: at L the flat rows are 20M long.
    flat = (user[valid], items[valid], rank[valid], reasons[valid])
    user, items, rank, reasons = (column.astype(np.int32) for column in flat)
    return user, items, values[valid], rank, reasons


def _category_model(interest: sp.csr_matrix, fallback: Fallback):
    """(users × products: Σ over the user's top categories of interest share × product share,
    each user's top category or -1)."""
    n = interest.shape[0]
    rows = np.repeat(np.arange(n), np.diff(interest.indptr))
    best = _top_per_row(rows, interest.data, interest.indices, TOP_CATEGORIES)
    rows, cats = rows[best], interest.indices[best].astype(np.int64)
    top_category = np.full(n, -1, dtype=np.int64)
    top_category[rows[::-1]] = cats[::-1]  # the first (best) of each row is written last
    weight = interest.data[best]
    lists = fallback.cat_lists
    owner, slot = np.nonzero(lists[cats] >= 0)
    items = lists[cats[owner], slot]
    # Rows come grouped by user and a product belongs to one category: already canonical CSR
    # apart from column order, which the sum with the item model does not need.
    indptr = np.r_[0, np.cumsum(np.bincount(rows[owner], minlength=n))]
    values = weight[owner] * fallback.share[items]
    model = sp.csr_matrix((values, items, indptr), shape=(n, len(fallback.share)))
    return model, top_category


def _reasons(block: sp.csr_matrix, similar: sp.csr_matrix, items: np.ndarray, repeat_weight):
    """For each recommended product, the user's recent product that contributed most to it.

    Ties go to the lower product id (a user's seeds come in column order).
    """
    reason = np.full(items.shape, -1, dtype=np.int64)
    counts = np.diff(block.indptr)
    rows = np.flatnonzero(counts)
    if len(rows) == 0 or items.shape[1] == 0:
        return reason
    # One line per (user, seed), one column per listed product of that user.
    seed = block.indices.astype(np.int64)
    targets = items[np.repeat(np.arange(block.shape[0]), counts)]
    listed = targets >= 0
    link = np.asarray(
        similar[np.repeat(seed, items.shape[1]), np.maximum(targets, 0).ravel()]
    ).reshape(targets.shape)
    link += repeat_weight * (targets == seed[:, None])
    contribution = np.where(listed, block.data[:, None] * link, 0.0)
    starts = block.indptr[rows]
    strongest = np.maximum.reduceat(contribution, starts, axis=0)
    at_max = contribution == np.repeat(strongest, counts[rows], axis=0)
    line = np.where(at_max, np.arange(len(seed))[:, None], len(seed))
    first = np.minimum.reduceat(line, starts, axis=0)
    found = strongest > 0
    reason[rows] = np.where(found, seed[np.minimum(first, len(seed) - 1)], -1)
    return reason


def _fill(items, values, reasons, own, excluded, top_category, fallback, floor, per_user):
    """Lists shorter than per_user get what is trending in the user's top category, then overall
    (then, past the trends, popular products: `fallback` is the trend ranking).

    Top-category products count double; nothing already listed, bought lately or twice. The
    overall list is read only as deep as a user needs: 2 × per_user first, deeper for the few
    users whose purchases and own products use that up.
    """
    popularity, global_top, in_cat_top = fallback.popularity, fallback.top, fallback.in_cat_top
    cat_lists, cat_of = fallback.cat_lists, fallback.cat_of
    counts = own.sum(axis=1)
    short = np.flatnonzero(counts < per_user)
    if len(short) == 0 or len(global_top) == 0:
        return items, values, reasons
    if items.shape[1] < per_user:
        own = np.pad(own, ((0, 0), (0, per_user - items.shape[1])))
        pad = per_user - items.shape[1]
        items = np.pad(items, ((0, 0), (0, pad)), constant_values=-1)
        values = np.pad(values, ((0, 0), (0, pad)), constant_values=-np.inf)
        reasons = np.pad(reasons, ((0, 0), (0, pad)), constant_values=-1)
    mine = np.where(own[short], items[short], -1)
    rows, cols = np.nonzero(mine >= 0)
    shape = (len(short), len(popularity))
    taken = excluded[short] + _csr(rows, mine[rows, cols], np.ones(len(rows)), shape)
    top = max(float(popularity.max(initial=0.0)) * 2.0, 1e-300)
    todo, depth = np.arange(len(short)), 2 * per_user
    while len(todo):
        user = short[todo]
        top_cat = top_category[user]
        from_cat = np.where(top_cat[:, None] >= 0, cat_lists[np.maximum(top_cat, 0)], -1)
        overall = np.broadcast_to(global_top[:depth], (len(todo), min(depth, len(global_top))))
        # A product of the top category's list comes once, as such.
        overall = np.where(in_cat_top[overall] & (cat_of[overall] == top_cat[:, None]), -1, overall)
        candidates = np.concatenate([from_cat, overall], axis=1)
        score = np.where(candidates >= 0, popularity[np.maximum(candidates, 0)], -np.inf)
        score[:, : from_cat.shape[1]] *= 2.0
        score[(candidates < 0) | (_lookup(taken[todo], candidates) > 0)] = -np.inf
        need = per_user - counts[user]
        # Anything deeper in the overall list ranks below enough valid candidates of this one.
        enough = np.isfinite(score[:, from_cat.shape[1] :]).sum(axis=1) >= need
        done = enough | (depth >= len(global_top))
        candidates, score = _sorted_rows(np.where(np.isfinite(score), candidates, -1), score)
        slot = np.arange(per_user)[None, :] - counts[user][:, None]
        take = (slot >= 0) & (slot < need[:, None]) & (slot < candidates.shape[1]) & done[:, None]
        pick = np.where(take, slot, 0)
        chosen = np.take_along_axis(candidates, pick, axis=1)
        chosen_score = np.take_along_axis(score, pick, axis=1)
        take &= chosen >= 0
        rows = np.broadcast_to(user[:, None], take.shape)[take]
        cols = np.broadcast_to(np.arange(per_user), take.shape)[take]
        items[rows, cols] = chosen[take]
        values[rows, cols] = floor[rows] * np.maximum(chosen_score[take], 0.0) / top
        reasons[rows, cols] = -1
        todo, depth = todo[~done], depth * 4
    return items, values, reasons


def _lookup(matrix: sp.csr_matrix, cols: np.ndarray) -> np.ndarray:
    """matrix[r, cols[r, j]] for every cell (0 where cols < 0)."""
    found = cols >= 0
    rows = np.broadcast_to(np.arange(cols.shape[0])[:, None], cols.shape)
    out = np.zeros(cols.shape)
    if found.any():
        out[found] = np.asarray(matrix[rows[found], cols[found]]).ravel()
    return out
