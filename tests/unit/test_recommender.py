"""The recommender's rules and the evaluation metrics, on tiny hand-made arrays."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from kalido.features import recommender as rec
from kalido.features.metrics import next_item_metrics, paired_difference, personal_metrics


def interactions(rows, n_users, n_items):
    """rows: (user, item, age_days, kind, group), already in (group, time) order."""
    user, item, age, kind, group = (np.array(c) for c in zip(*rows, strict=True))
    return rec.Interactions(
        user=user.astype(np.int32),
        item=item.astype(np.int32),
        age_days=age.astype(float),
        kind=kind.astype(np.int8),
        group=group.astype(np.int64),
        n_users=n_users,
        n_items=n_items,
    )


def co_views(pairs_by_user, n_items):
    """Each user views each of their (a, b) pairs in one session of their own."""
    rows, group = [], 0
    for user, pairs in enumerate(pairs_by_user):
        for a, b in pairs:
            group += 1
            rows += [(user, a, 1.0, rec.VIEW, group), (user, b, 1.0, rec.VIEW, group)]
    return interactions(rows, len(pairs_by_user), n_items)


def catalogue(n_items, categories=None, out_of_stock=()):
    stock = np.ones(n_items, bool)
    stock[list(out_of_stock)] = False
    cats = np.zeros(n_items, np.int32) if categories is None else np.array(categories, np.int32)
    return rec.Catalogue(category=cats, in_stock=stock, n_categories=int(cats.max()) + 1)


def pairs_of(sim):
    src, dst, _, _ = sim.rows()
    return set(zip(src.tolist(), dst.tolist(), strict=True))


def co_views_apart(pairs_by_user, n_items):
    """The same views as co_views, but each product in a session of its own."""
    rows, group = [], 0
    for user, pairs in enumerate(pairs_by_user):
        for a, b in pairs:
            rows += [(user, a, 1.0, rec.VIEW, group + 1), (user, b, 1.0, rec.VIEW, group + 2)]
            group += 2
    return interactions(rows, len(pairs_by_user), n_items)


def row_of(sim, product):
    src, dst, score, _ = sim.rows()
    return dst[src == product].tolist(), score[src == product].tolist()


def test_a_pair_needs_k_distinct_users_and_repeat_sessions_of_one_user_do_not_count():
    # Pair (0, 1): 5 distinct users. Pair (2, 3): 4 users, one of whom co-viewed it 10 times.
    users = [[(0, 1), (2, 3)] for _ in range(4)] + [[(0, 1)]]
    users[0] = users[0] + [(2, 3)] * 9
    together = rec.similarity(co_views(users, 4), catalogue(4), rec.RecParams(min_users=5))
    apart = rec.similarity(co_views_apart(users, 4), catalogue(4), rec.RecParams(min_users=5))
    # Below k, the lists of 2 and 3 are what popularity alone gives: as if never co-viewed.
    assert row_of(together, 2) == row_of(apart, 2) and row_of(together, 3) == row_of(apart, 3)
    assert row_of(together, 0) != row_of(apart, 0)  # 5 users: the pair (0, 1) counts
    assert row_of(together, 0)[0][0] == 1
    at_4 = rec.similarity(co_views(users, 4), catalogue(4), rec.RecParams(min_users=4))
    assert row_of(at_4, 2) != row_of(apart, 2)


def test_a_coview_window_drops_the_pairs_of_older_days_only():
    # Pair (0, 1): 5 users, 40 days ago. Pair (2, 3): 5 other users, yesterday.
    def log(old):
        old = replace(old, age_days=np.full(len(old.user), 40.0))
        new = co_views([[(2, 3)] for _ in range(5)], 4)
        return replace(
            old,
            user=np.r_[old.user, new.user + 5],
            item=np.r_[old.item, new.item],
            age_days=np.r_[old.age_days, new.age_days],
            kind=np.r_[old.kind, new.kind],
            group=np.r_[old.group, new.group + old.group.max()],
            n_users=10,
        )

    old_pairs = [[(0, 1)] for _ in range(5)]
    every_day = rec.RecParams(min_users=5)
    last_30 = rec.similarity(
        log(co_views(old_pairs, 4)), catalogue(4), replace(every_day, coview_window_days=30)
    )
    # Within 30 days, what was co-viewed 40 days ago is as if viewed apart; yesterday's pair and
    # the popularity (every day) are as they were.
    apart = rec.similarity(log(co_views_apart(old_pairs, 4)), catalogue(4), every_day)
    together = rec.similarity(log(co_views(old_pairs, 4)), catalogue(4), every_day)
    assert pairs_of(last_30) == pairs_of(apart)
    assert all(row_of(last_30, p) == row_of(apart, p) for p in range(4))
    assert row_of(together, 0) != row_of(apart, 0)
    assert np.array_equal(last_30.popularity, together.popularity)


def test_a_pair_keeps_all_its_users_when_the_work_is_split_in_two():
    # Seven users co-view (0, 1); user 3's session comes first, so the first sampled key (the
    # pivot that splits the work across two cores) is user 3's key of that pair. Split there,
    # 3 and 4 users each fell below k = 5 and the pair was lost.
    order = [3, 0, 1, 2, 4, 5, 6]
    rows = []
    for group, user in enumerate(order):
        rows += [(user, 0, 1.0, rec.VIEW, group), (user, 1, 1.0, rec.VIEW, group)]
    sim = rec.similarity(interactions(rows, 7, 3), catalogue(3), rec.RecParams(min_users=5))
    apart = rec.similarity(co_views_apart([[(0, 1)]] * 7, 3), catalogue(3), rec.RecParams())
    assert row_of(sim, 0) != row_of(apart, 0)
    assert row_of(sim, 0)[0][0] == 1 and row_of(sim, 0)[1][0] > row_of(apart, 0)[1][0]


def test_never_self_similar_and_only_in_stock_targets():
    users = [[(0, 1), (0, 2), (0, 0), (1, 2)] for _ in range(6)]
    sim = rec.similarity(co_views(users, 3), catalogue(3, out_of_stock=[2]), rec.RecParams())
    found = pairs_of(sim)
    assert all(a != b for a, b in found)
    assert all(b != 2 for _, b in found)
    assert (2, 0) in found  # an out-of-stock product still has similar products


def test_a_persons_products_in_other_sessions_count_by_person_and_only_with_a_weight():
    # Pair (0, 1): 5 users, each viewing 0 and 1 in two sessions. Pair (2, 3): 4 users so.
    users = [[(0, 1)] for _ in range(5)] + [[(2, 3)] for _ in range(4)]
    apart = co_views_apart(users, 4)
    # Without the weight, as if never seen together (see the k test above).
    within_only = rec.similarity(apart, catalogue(4), rec.RecParams())
    across = rec.similarity(apart, catalogue(4), rec.RecParams(cross_session_weight=0.5))
    assert row_of(across, 0) != row_of(within_only, 0) and row_of(across, 0)[0][0] == 1
    assert row_of(across, 2) == row_of(within_only, 2)  # 4 people stay below k = 5


def test_a_short_list_borrows_its_neighbours_lists_built_from_k_supported_pairs_only():
    # 0-1 and 1-2 have 6 users each; 0 and 2 are never seen together. 3-4: 4 users (below k).
    users = [[(0, 1)] for _ in range(6)] + [[(1, 2)] for _ in range(6)]
    users += [[(3, 4)] for _ in range(4)] + [[(5, 6)] for _ in range(8)]
    views = co_views(users, 7)
    plain = rec.similarity(views, catalogue(7), rec.RecParams())
    hops = rec.similarity(views, catalogue(7), rec.RecParams(two_hop_weight=0.5))
    # Without hops, 2 is at the bottom of 0's list (popularity fill); with them, second.
    assert row_of(plain, 0)[0][0] == 1 and row_of(hops, 0)[0][:2] == [1, 2]
    assert row_of(plain, 0)[0].index(2) > 1
    # 3's only pair is below k: nothing to borrow, its list is the popularity fill as before.
    assert row_of(hops, 3) == row_of(plain, 3)


def test_a_full_list_borrows_its_neighbours_lists_too():
    # 0's list is full (per_product 3) with 1, 3 and 4; 1 is seen with 2 by many more users
    # than 0 with 3 or 4. What 0's strongest neighbour is seen with beats 0's weakest pairs.
    users = [[(0, 1)] for _ in range(20)] + [[(1, 2)] for _ in range(30)]
    users += [[(0, 3)] for _ in range(5)] + [[(0, 4)] for _ in range(5)]
    views = co_views(users, 5)
    params = rec.RecParams(per_product=3, category_prior=0.0)
    plain = rec.similarity(views, catalogue(5), params)
    hops = rec.similarity(views, catalogue(5), replace(params, two_hop_weight=1.0))
    assert sorted(row_of(plain, 0)[0]) == [1, 3, 4]
    assert row_of(hops, 0)[0][:2] == [1, 2]


def test_scores_are_normalised_against_popularity():
    # 1 is co-viewed with 0 by 6 users; 2 (viewed by everybody) by 8 users out of its 30.
    users = [[(0, 1)] for _ in range(6)] + [[(0, 2)] for _ in range(8)]
    users += [[(3, 2)] for _ in range(22)]
    sim = rec.similarity(co_views(users, 4), catalogue(4), rec.RecParams(popularity_exponent=0.5))
    src, dst, _, rank = sim.rows()
    first_of_0 = dst[(src == 0) & (rank == 1)]
    assert first_of_0.tolist() == [1]


def recommend(rows, n_users, n_items, cats=None, out_of_stock=(), **params):
    events = interactions(rows, n_users, n_items)
    params = rec.RecParams(min_users=1, **params)
    cat = catalogue(n_items, cats, out_of_stock)
    sim = rec.similarity(events, cat, params)
    return rec.recommend(events, cat, sim, params)


def by_user(recs, user):
    mine = recs.user == user
    order = np.argsort(recs.rank[mine])
    return recs.item[mine][order].tolist(), recs.reason_item[mine][order].tolist()


def test_nothing_bought_recently_is_recommended_but_an_old_purchase_may_return():
    rows = []
    for u in range(3):  # three users co-view 0 and 1, and 0 and 2
        rows += [(u, 0, 5.0, rec.VIEW, 10 + u), (u, 1, 5.0, rec.VIEW, 10 + u)]
        rows += [(u, 0, 5.0, rec.VIEW, 20 + u), (u, 2, 5.0, rec.VIEW, 20 + u)]
    rows += [(3, 0, 1.0, rec.VIEW, 30), (3, 1, 2.0, rec.ORDER, 31), (3, 2, 40.0, rec.ORDER, 32)]
    recs = recommend(rows, 4, 4, exclude_bought_days=30)
    items, _ = by_user(recs, 3)
    assert 1 not in items  # bought 2 days ago
    assert 2 in items  # bought 40 days ago


def test_lists_are_full_in_stock_with_reasons_even_without_history():
    # 30 products in 2 categories: 0-19 in category 0 and 20-29 in category 1. Users 0-5 viewed
    # everything 40 days ago (past the discovery window, so it may come back).
    cats = [0] * 20 + [1] * 10
    rows, group = [], 0
    for u in range(6):
        for a in range(30):
            group += 1
            rows += [(u, a, 40.0, rec.VIEW, group), (u, (a + 1) % 30, 40.0, rec.VIEW, group)]
    rows.append((6, 3, 0.5, rec.VIEW, 999))
    recs = recommend(rows, 8, 30, cats=cats, out_of_stock=[29], per_user=20)
    for user in range(8):
        items, reasons = by_user(recs, user)
        assert len(items) == 20 and len(set(items)) == 20 and 29 not in items
    items, reasons = by_user(recs, 6)
    assert reasons[0] >= 0  # behaviour first: because_viewed a product
    assert 3 not in items  # viewed yesterday: discovery lists hold only what is new
    items, reasons = by_user(recs, 7)  # no history at all: popular products
    assert set(reasons) == {-1}


def test_diversity_decay_moves_a_second_category_up():
    cats = [0] * 6 + [1] * 2
    rows, group = [], 0
    for u in range(5):
        for b in range(1, 8):
            group += 1
            weight_age = 1.0 if b < 6 else 20.0  # category 1 co-views are older (weaker)
            rows += [(u, 0, weight_age, rec.VIEW, group), (u, b, weight_age, rec.VIEW, group)]
    rows.append((5, 0, 0.1, rec.VIEW, 999))
    plain, _ = by_user(recommend(rows, 6, 8, cats=cats, diversity_decay=1.0, per_user=4), 5)
    diverse, _ = by_user(recommend(rows, 6, 8, cats=cats, diversity_decay=0.3, per_user=4), 5)
    assert {cats[i] for i in plain} == {0}
    assert 1 in {cats[i] for i in diverse}
    # Calibrated: user 5 has looked at category 0 only, so category 0 may fill the share of the
    # list diversity_max_share allows (4 of 4, or 2 of 4) before the penalty starts.
    whole = dict(cats=cats, diversity_decay=0.3, per_user=4, diversity_max_share=1.0)
    half = dict(whole, diversity_max_share=0.5)
    assert by_user(recommend(rows, 6, 8, **whole), 5)[0] == plain
    assert 1 in {cats[i] for i in by_user(recommend(rows, 6, 8, **half), 5)[0]}


def test_a_user_with_two_interests_gets_a_list_in_proportion():
    # Products 0-9 in category 0, 10-19 in category 1; five users co-view within each category,
    # category 0's pairs more often (stronger). User 5 looks at 0 and 10 alike.
    cats = [0] * 10 + [1] * 10
    rows, group = [], 0
    for u in range(5):
        for first in (0, 10):
            for b in range(first + 1, first + 10):
                for _ in range(3 if first == 0 else 1):
                    group += 1
                    rows += [(u, first, 1.0, rec.VIEW, group), (u, b, 1.0, rec.VIEW, group)]
    rows += [(5, 0, 0.1, rec.VIEW, 999), (5, 10, 0.1, rec.VIEW, 1000)]
    calibrated = dict(cats=cats, per_user=6, diversity_decay=0.5, diversity_max_share=0.75)
    items, _ = by_user(recommend(rows, 6, 20, **calibrated), 5)
    assert sorted(cats[i] for i in items) == [0, 0, 0, 1, 1, 1]
    items, _ = by_user(recommend(rows, 6, 20, **dict(calibrated, diversity_decay=1.0)), 5)
    assert sorted(cats[i] for i in items) != [0, 0, 0, 1, 1, 1]


def test_personal_metrics_match_a_hand_computed_case():
    # User 0: truth {5, 7}; ranked [5, 1, 7] → hit at 1 and 3. User 1: truth {2}; ranked [4, 2].
    # User 2: truth {9}; no hit.
    rec_user = np.array([0, 0, 0, 1, 1, 2])
    rec_rank = np.array([1, 2, 3, 1, 2, 1])
    rec_item = np.array([5, 1, 7, 4, 2, 3])
    truth_user, truth_item = np.array([0, 0, 1, 2]), np.array([5, 7, 2, 9])
    m = personal_metrics(rec_user, rec_rank, rec_item, truth_user, truth_item, n_items=10)
    assert m["users"] == 3
    assert m["hr"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert m["recall"] == pytest.approx((1 + 1 + 0) / 3)
    ndcg0 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    ndcg1 = (1 / math.log2(3)) / 1
    assert m["ndcg"] == pytest.approx((ndcg0 + ndcg1 + 0) / 3)
    # Only the top k count.
    m2 = personal_metrics(rec_user, rec_rank, rec_item, truth_user, truth_item, 10, k=1)
    assert m2["hr"] == pytest.approx(1 / 3) and m2["mrr"] == pytest.approx(1 / 3)


def test_next_item_metrics_match_a_hand_computed_case():
    src, rank, dst = np.array([1, 1, 1, 2]), np.array([1, 2, 3, 1]), np.array([4, 5, 6, 7])
    current, following = np.array([1, 1, 2, 3]), np.array([5, 9, 7, 1])
    m = next_item_metrics(src, rank, dst, current, following, n_items=10)
    assert m == {"pairs": 4, "hr": pytest.approx(2 / 4), "mrr": pytest.approx((1 / 2 + 1) / 4)}


def test_a_paired_difference_has_the_spread_of_the_differences_not_of_the_metrics():
    # Both methods hit the same 50 users and miss the same 50, theirs hits 10 more: every
    # difference is 0 or 1, so the interval is narrow although each HR is near 0.5.
    ours = np.r_[np.ones(50), np.zeros(150)]
    theirs = np.r_[np.ones(60), np.zeros(140)]
    d = paired_difference(theirs, ours)
    assert d["difference"] == pytest.approx(10 / 200)
    spread = np.sqrt((10 * (1 - 0.05) ** 2 + 190 * 0.05**2) / 199)
    assert d["ci95"] == pytest.approx(1.96 * spread / np.sqrt(200))
    assert d["ci95"] < d["difference"] < 1.96 * np.sqrt(0.5 * 0.5 / 200)
    assert d["n"] == 200
    assert paired_difference(np.ones(1), np.zeros(1)) == {"n": 1, "difference": 1.0, "ci95": None}


def test_recommending_leaves_the_ranked_similar_lists_as_they_were():
    users = [[(0, 3)] + ([(0, 1), (0, 2)] if u < 3 else []) for u in range(6)]
    events = co_views(users, 4)
    params = rec.RecParams(min_users=1)
    sim = rec.similarity(events, catalogue(4), params)
    before = [a.copy() for a in sim.rows()]
    rec.recommend(events, catalogue(4), sim, params)
    after = sim.rows()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    src, dst, _, rank = after
    assert dst[(src == 0) & (rank == 1)].tolist() == [3]  # the strongest first, not by id


def test_a_users_list_depends_only_on_their_history_and_the_similarity(monkeypatch):
    # Lists are computed per shard of users: the same user, alone or among others, gets the
    # same products, scores and reasons (popularity comes from the similarity, not the shard).
    # Slices of 4 users: "everyone" is scored by several threads.
    monkeypatch.setattr(rec, "USER_CHUNK", 4)
    cats = [0] * 10 + [1] * 10
    rows, group = [], 0
    for u in range(12):
        for a in range(u % 5, 20, 3):
            group += 1
            # Older than the discovery window, so that every list can be full.
            rows += [(u, a, 31.0 + u, rec.VIEW, group), (u, (a + 7) % 20, 32.0, rec.VIEW, group)]
    rows.append((12, 4, 3.0, rec.ORDER, 999))
    events = interactions(rows, 13, 20)
    params = rec.RecParams(min_users=2, per_user=16, cross_session_weight=0.5, two_hop_weight=0.5)
    cat = catalogue(20, cats, out_of_stock=[5])
    sim = rec.similarity(events, cat, params)
    everyone = rec.recommend(events, cat, sim, params)
    for user in (0, 7, 12):
        mine = events.user == user
        alone = rec.Interactions(
            user=np.zeros(int(mine.sum()), np.int32),
            item=events.item[mine],
            age_days=events.age_days[mine],
            kind=events.kind[mine],
            group=events.group[mine],
            n_users=1,
            n_items=20,
        )
        single = rec.recommend(alone, cat, sim, params)
        picked = everyone.user == user
        assert len(single.item) == 16
        assert single.item.tolist() == everyone.item[picked].tolist()
        assert single.reason_item.tolist() == everyone.reason_item[picked].tolist()
        assert np.allclose(single.score, everyone.score[picked])


def test_sparse_similar_lists_lean_on_the_category_and_dense_ones_on_co_views():
    # Products 0-5 in category 0; 5 is the most popular one. 0 and 1 are co-viewed by
    # many users: 1 leads 0's list. 2 has no co-views: its list is category 0 by popularity.
    cats = [0] * 6 + [1] * 2
    users = [[(0, 1)] for _ in range(30)] + [[(5, 6)] for _ in range(40)]
    users += [[(3, 7)] for _ in range(10)] + [[(4, 7)] for _ in range(5)]
    sim = rec.similarity(co_views(users, 8), catalogue(8, cats), rec.RecParams(min_users=5))
    assert row_of(sim, 0)[0][0] == 1
    listed, _ = row_of(sim, 2)
    assert listed == [5, 0, 1, 3, 4, 6, 7]  # category 0 by popularity, then the others


def test_discovery_lists_never_hold_what_the_person_viewed_or_bought_lately():
    # Everyone co-views 0 with 1-9; user 0 viewed 1 and 2 ten days ago, 3 forty days ago and
    # bought 4 yesterday: 1, 2 and 4 never come back, 3 may; no reason names its own product.
    rows, group = [], 0
    for u in range(1, 12):
        for b in range(1, 10):
            group += 1
            rows += [(u, 0, 5.0, rec.VIEW, group), (u, b, 5.0, rec.VIEW, group)]
    rows += [(0, 0, 10.0, rec.VIEW, 900), (0, 1, 10.0, rec.VIEW, 900), (0, 2, 10.0, rec.VIEW, 900)]
    rows += [(0, 3, 40.0, rec.VIEW, 901), (0, 4, 1.0, rec.ORDER, 902)]
    recs = recommend(rows, 12, 12, cats=[0] * 12, per_user=8)
    items, reasons = by_user(recs, 0)
    assert not {0, 1, 2, 4} & set(items)
    assert 3 in items
    assert all(reason != item for item, reason in zip(items, reasons, strict=True))
    # a shorter window lets 1 and 2 back
    shorter, _ = by_user(recommend(rows, 12, 12, [0] * 12, per_user=8, exclude_viewed_days=5.0), 0)
    assert {1, 2} <= set(shorter)
