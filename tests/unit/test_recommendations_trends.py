"""Trends as a ranking signal and fallback, and the weights learned nightly from the log."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kalido.features import recommender as rec
from kalido.features.holdout import Holdout, _sample, holdout_quality
from kalido.policy import LEARNABLE_WEIGHTS, ConfigError, load_policy
from tests.unit.test_recommender import catalogue, interactions

# The policy's shape of the recommender (k = 5), with trends on.
PARAMS = rec.RecParams(
    min_users=5,
    per_user=20,
    category_prior=1.0,
    profile_weight=0.5,
    trend_weight=0.5,
    cross_session_weight=0.5,
    two_hop_weight=1.0,
    session_window=10,
    repeat_weight=0.0,
    diversity_max_share=0.75,
)


def single_views(views):
    """(user, item, age_days) views, each in a session of its own (no co-views at all)."""
    rows = [(u, i, age, rec.VIEW, g) for g, (u, i, age) in enumerate(views)]
    return rows


def shop_with_a_riser():
    """Category 0 = products 0-9, category 1 = 10-19. Product 10 is category 1's all-time
    bestseller (60 people, 40 days ago); 15 is rising in it (8 people in the last day); 3 is
    rising more, in category 0 (20 people). Everything else: 5 people 20 days ago."""
    views, user = [], 0
    for item, people, age in [(10, 60, 40.0), (15, 8, 1.0), (3, 20, 0.5)]:
        for _ in range(people):
            views.append((user, item, age))
            user += 1
    for item in (1, 2, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19):
        for _ in range(5):
            views.append((user, item, 20.0))
            user += 1
    return views, user, catalogue(20, [0] * 10 + [1] * 10)


def lists(views, n_users, cat, params=PARAMS):
    events = interactions(single_views(views), n_users, 20)
    sim = rec.similarity(events, cat, params)
    recs = rec.recommend(events, cat, sim, params)

    def of(user):
        mine = recs.user == user
        return recs.item[mine][np.argsort(recs.rank[mine])].tolist()

    return of, sim


def test_a_rising_product_outranks_the_all_time_bestseller_for_someone_in_its_category():
    views, me, cat = shop_with_a_riser()
    views.append((me, 11, 2.0))  # one product of category 1 seen, two days ago
    of, _ = lists(views, me + 1, cat)
    mine = of(me)
    assert mine[0] == 15 and mine.index(15) < mine.index(10)
    # What rises elsewhere (3, more people than 15) comes after the person's own category.
    assert all(mine.index(3) > mine.index(item) for item in range(12, 20))
    # Without the trend model the bestseller leads: the signal is what moved it.
    before, _ = lists(views, me + 1, cat, replace(PARAMS, trend_weight=0.0))
    assert before(me)[0] == 10


def test_a_person_with_no_history_gets_what_is_trending_not_the_all_time_bestseller():
    views, nobody, cat = shop_with_a_riser()
    of, sim = lists(views, nobody + 1, cat)
    assert of(nobody)[:2] == [3, 15]  # trending, by recent people
    assert sim.popularity[10] > sim.popularity[3]  # although 10 has more people all-time
    assert len(of(nobody)) == 20


def test_a_trend_needs_k_distinct_people_in_its_recent_days():
    # 4 people saw 0 yesterday (below k = 5); 5 saw 1; 6 saw 2 three weeks ago (past the trend's
    # four half-lives of 3 days); one person saw 3 five times.
    views, user = [], 0
    for item, people, age in [(0, 4, 1.0), (1, 5, 1.0), (2, 6, 21.0)]:
        for _ in range(people):
            views.append((user, item, age))
            user += 1
    views += [(user, 3, 0.1 * n) for n in range(5)]
    events = interactions(single_views(views), user + 1, 4)
    trend = rec.trending(events, PARAMS)
    assert trend[0] == 0 and trend[2] == 0 and trend[3] == 0
    assert trend[1] == pytest.approx(5 * 2 ** (-1 / 3))  # each person once, decayed


def shop_moving_to_risers(people_per_category: int, seed: int = 1):
    """Four categories of 30 products. Weeks ago many people bought into three bestsellers per
    category; then each category's last product started rising: a third of its shoppers saw it
    just before the held-back week, the others come to it in that week (new to them)."""
    rng = np.random.default_rng(seed)
    views, user = [], 0
    for category in range(4):
        base = category * 30
        for _ in range(5 * people_per_category):
            views.append((user, base + int(rng.integers(0, 3)), 25 + rng.random() * 15))
            user += 1
        for n in range(people_per_category):
            views.append((user, base + int(rng.integers(5, 29)), 20 + rng.random() * 20))
            age = 7.5 + rng.random() if n % 3 == 0 else rng.random() * 6
            views.append((user, base + 29, age))
            user += 1
    events = interactions(single_views(views), user, 120)
    return events, catalogue(120, np.repeat(np.arange(4), 30))


def learn(events, cat, prior, seed=20261124):
    return holdout_quality(
        events, cat, prior, Holdout(days=7.0, sample_users=2000, seed=seed), LEARNABLE_WEIGHTS
    )


def test_a_weight_moves_when_the_log_clearly_favours_another_value_and_the_record_says_so():
    events, cat = shop_moving_to_risers(60)
    prior = replace(PARAMS, trend_weight=0.0)
    chosen, figures = learn(events, cat, prior)
    assert figures["quality_users"] == 160
    assert chosen.trend_weight == 0.25  # the first value of the grid around 0
    evidence = figures["quality_learned"]["trend_weight"]
    assert evidence["prior"] == 0.0 and evidence["chosen"] == 0.25
    assert evidence["gain"] > evidence["ci95"]
    # The figures are those of the chosen weights: the riser first for everyone.
    assert figures["quality_mrr_at_20"] == 1.0
    # The other weights had no evidence beyond the interval: they kept their policy values.
    assert replace(chosen, trend_weight=0.0) == prior
    assert set(figures["quality_learned"]) == set(LEARNABLE_WEIGHTS)


def test_a_tiny_log_keeps_the_policy_values():
    events, cat = shop_moving_to_risers(6)  # 16 people in the held-back week
    prior = replace(PARAMS, trend_weight=0.0)
    chosen, figures = learn(events, cat, prior)
    assert figures["quality_users"] == 16 and chosen == prior
    # A log with nobody to score: the prior too, and no figures.
    quiet = replace(events, age_days=events.age_days + 30)
    chosen, figures = learn(quiet, cat, prior)
    assert chosen == prior and figures["quality_users"] == 0


def test_the_same_log_learns_the_same_values_and_figures():
    events, cat = shop_moving_to_risers(60)
    first = learn(events, cat, replace(PARAMS, trend_weight=0.0))
    assert learn(events, cat, replace(PARAMS, trend_weight=0.0)) == first
    # The events in another order (the sessions shuffled): the same people, values and figures.
    order = np.random.default_rng(7).permutation(len(events.item))
    shuffled = replace(
        events,
        user=events.user[order],
        item=events.item[order],
        age_days=events.age_days[order],
        kind=events.kind[order],
        group=events.group[order],
    )
    assert learn(shuffled, cat, replace(PARAMS, trend_weight=0.0)) == first


def test_the_sample_is_keyed_on_the_logical_date_not_on_the_order_of_the_rows():
    people = np.arange(1000)
    tonight = _sample(people, 100, seed=739_000)
    assert len(tonight) == 100 and len(np.unique(tonight)) == 100
    assert _sample(people[::-1].copy(), 100, seed=739_000).tolist() == tonight.tolist()
    assert _sample(people, 100, seed=739_001).tolist() != tonight.tolist()


def test_the_learned_weights_are_a_checked_policy_list(tmp_path):
    import yaml

    from kalido.config import PROJECT_ROOT

    shipped = load_policy()
    assert set(shipped.profiling.learned_weights) <= set(LEARNABLE_WEIGHTS)
    assert shipped.profiling.recommender.trend_weight > 0
    raw = yaml.safe_load((PROJECT_ROOT / "kalido/policy.yaml").read_text(encoding="utf-8"))
    raw["profiling"]["learned_weights"] = ["diversity_decay"]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match="learned_weights"):
        load_policy(path)
    raw["profiling"]["learned_weights"] = []
    raw["profiling"]["recommender"]["trend_half_life_days"] = 0
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match="trend_half_life_days"):
        load_policy(path)
