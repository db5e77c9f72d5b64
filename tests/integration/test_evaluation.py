"""`kalido evaluate`: the harness's work folder belongs to one evaluation at a time."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime

import numpy as np
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest

from kalido.features import metrics
from kalido.features import recommender as rec
from kalido.tools import evaluation, synthetic_retailrocket
from kalido.tools.evaluation import locked
from tests.conftest import kalido


def test_a_second_evaluation_of_the_same_home_stops_with_a_clear_error(tmp_path):
    (tmp_path / "landing").mkdir()
    work = tmp_path / "evaluation" / ".work"
    work.mkdir(parents=True)
    (work / "in-use").write_text("the running evaluation's store", encoding="utf-8")
    with locked(tmp_path / "evaluation"):
        result = kalido(
            "evaluate", "--home", str(tmp_path), "--split-date", "2026-11-18", check=False
        )
    assert result.returncode == 2
    assert "another evaluation" in result.stderr and ".lock" in result.stderr
    assert (work / "in-use").exists()  # the running evaluation's stores were left alone
    with locked(tmp_path / "evaluation"):  # released with its holder
        pass


def test_an_imported_log_is_evaluated_against_every_baseline(tmp_path):
    # docs/evaluation.md's RetailRocket-scale route, small: synthetic → import-events → evaluate.
    table = synthetic_retailrocket.generate(visitors=10_000, products=500, groups=20)
    source = tmp_path / "events.csv"
    pcsv.write_csv(table, source, pcsv.WriteOptions(quoting_style="none"))
    home = tmp_path / "zone"
    kalido("import-events", str(source), "--out", str(home))
    result = kalido("evaluate", "--home", str(home), "--split-date", "2015-09-04", "--horizon", "7")
    report = json.loads((home / "evaluation" / "report.json").read_text())
    methods = {row["method"]: row for row in report["methods"]}
    baselines = [
        "popular",
        "recent_popular_7d",
        "category_popular",
        "sar_jaccard",
        "implicit_cosine",
        "implicit_bm25",
    ]
    # Every method held to k, and each again unconstrained (kalido's at k = 1).
    assert set(methods) == {
        name + suffix for name in ["kalido", *baselines] for suffix in ("", "_unconstrained")
    }
    assert report["data"]["min_distinct_users"] == 5
    for name in ["kalido", *baselines]:
        price = methods[name]["price_of_privacy"]["personal_hr"]
        assert price["difference"] == pytest.approx(
            methods[name]["personal"]["hr"] - methods[name + "_unconstrained"]["personal"]["hr"]
        )
        assert "price_of_privacy" not in methods[name + "_unconstrained"]
    for row in methods.values():
        assert 0 <= row["repeats"] <= 1 and 0 <= row["diversity"] <= 1
    # Discovery: nothing the person viewed, carted or bought within the policy's windows.
    assert methods["kalido"]["window_repeats"] == 0
    assert report["data"]["eval_users"] > 50 and report["data"]["next_item_pairs"] > 50
    # No leakage: training holds exactly the log's events before the split, which is local
    # midnight in the business time zone (Europe/Paris, 2015-09-03T22:00Z), not UTC's.
    split_ms = int(datetime(2015, 9, 3, 22, tzinfo=UTC).timestamp() * 1000)
    before = pc.sum(pc.less(table["timestamp"], split_ms)).as_py()
    assert report["data"]["split"] == "2015-09-03T22:00:00Z"
    assert report["data"]["train_interactions"] == before
    for row in methods.values():
        for task in ("personal", "similar"):
            assert all(0 <= v <= 1 for k, v in row[task].items() if k not in ("users", "pairs"))
    # Behaviour beats popularity on a log where visitors keep to groups of related products.
    assert methods["kalido"]["personal"]["hr"] > methods["popular"]["personal"]["hr"]
    assert methods["kalido"]["similar"]["hr"] > methods["popular"]["similar"]["hr"]
    assert methods["kalido"]["full_lists"] == 1.0
    assert "| kalido |" in result.stdout and "| implicit_bm25 |" in result.stdout
    assert "| implicit_bm25_unconstrained |" in result.stdout
    assert "The price of privacy" in result.stdout
    popular = methods["popular"]["minus_kalido"]["personal_hr"]
    assert popular["difference"] == pytest.approx(
        methods["popular"]["personal"]["hr"] - methods["kalido"]["personal"]["hr"]
    )
    assert 0 < popular["ci95"] < abs(popular["difference"])  # popularity is clearly worse
    assert "minus_kalido" not in methods["kalido"]
    assert f"| popular | {popular['difference']:+.4f} ± {popular['ci95']:.4f} *" in result.stdout
    assert not (home / "evaluation" / ".work").exists()  # the throwaway stores are gone


def test_sar_built_in_blocks_gives_the_lists_of_the_whole_similarity(monkeypatch):
    # SAR by the book, dense: Jaccard of the products' user sets, times the users' decayed,
    # type-weighted affinity. The harness builds it a few products at a time.
    rng = np.random.default_rng(3)
    n_users, n_items, n = 60, 40, 700
    user = np.sort(rng.integers(0, n_users, n)).astype(np.int32)
    item = rng.integers(0, n_items, n).astype(np.int32)
    kind = rng.integers(0, 3, n).astype(np.int8)
    age = rng.random(n) * 60
    events = rec.Interactions(user, item, age, kind, user.astype(np.int64), n_users, n_items)
    split = evaluation.Split(
        events=events,
        catalogue=rec.Catalogue(np.zeros(n_items, np.int32), np.ones(n_items, bool), 1),
        params=rec.RecParams(),
        eval_users=np.arange(0, n_users, 2),
        sources=np.arange(0, n_items, 3),
        excluded=np.zeros(0, np.int64),
    )
    seen = np.zeros((n_users, n_items))
    seen[user, item] = 1.0
    both = seen.T @ seen
    either = np.diag(both)[:, None] + np.diag(both)[None, :] - both
    jaccard = np.divide(both, either, out=np.zeros_like(both), where=either > 0)
    affinity = np.zeros((n_users, n_items))
    np.add.at(affinity, (user, item), np.array([1.0, 3.0, 5.0])[kind] * np.exp2(-age / 30))
    scores = affinity[split.eval_users] @ jaccard
    u, i = np.nonzero(scores)
    s, d = np.nonzero(jaccard[split.sources])
    expected = evaluation._from_scores(
        split,
        split.eval_users[u],
        i,
        scores[u, i],
        split.sources[s],
        d,
        jaccard[split.sources][s, d],
    )
    monkeypatch.setattr(evaluation, "SAR_BLOCK_ENTRIES", 400)  # a few products a block
    got = evaluation.sar(split)
    for field in ("rec_user", "rec_rank", "rec_item", "sim_src", "sim_rank", "sim_dst"):
        assert np.array_equal(getattr(got, field), getattr(expected, field)), field


def _pair_split(k: int = 5) -> evaluation.Split:
    """Product 0 is seen with product 1 by k - 1 people and with product 2 by k people; product
    1 is popular with k - 1 people, product 3 with k. Person 2k + 3 has seen product 0 only."""
    groups = [[0, 1]] * (k - 1) + [[0, 2]] * k + [[3]] * k + [[0]]
    user = np.concatenate([[u] * len(g) for u, g in enumerate(groups)]).astype(np.int32)
    item = np.concatenate(groups).astype(np.int32)
    n_users, n_items = len(groups), 4
    events = rec.Interactions(
        user=user,
        item=item,
        age_days=np.full(len(user), 1.0),
        kind=np.zeros(len(user), np.int8),
        group=user.astype(np.int64),
        n_users=n_users,
        n_items=n_items,
    )
    return evaluation.Split(
        events=events,
        catalogue=rec.Catalogue(np.zeros(n_items, np.int32), np.ones(n_items, bool), 1),
        params=rec.RecParams(min_users=k),
        eval_users=np.array([n_users - 1]),
        sources=np.array([0]),
        excluded=np.zeros(0, np.int64),
    )


@pytest.mark.parametrize(
    "name", ["sar_jaccard", "implicit_cosine", "implicit_bm25", "popular", "recent_popular_7d"]
)
def test_a_baseline_held_to_k_never_recommends_through_a_pair_of_fewer_than_k_people(name):
    split = _pair_split(k=5)
    methods = evaluation._baselines(5)
    held, free = methods[name](split), methods[name + "_unconstrained"](split)
    # Product 1 rests on k - 1 people (its pair with 0, or its popularity): never held to k.
    assert 1 not in held.rec_item
    assert 1 not in held.sim_dst[held.sim_src == 0]
    # Without k it is there, so the threshold is what removed it.
    assert 1 in free.rec_item
    # What k people support stays.
    expected = 2 if name.startswith(("sar", "implicit")) else 3
    assert expected in held.rec_item and expected in held.sim_dst[held.sim_src == 0]


def test_the_held_to_k_neighbour_search_at_k_1_is_implicits_own():
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    rng = np.random.default_rng(3)
    n_users, n_items, n = 80, 50, 900
    user = np.sort(rng.integers(0, n_users, n)).astype(np.int32)
    item = rng.integers(0, n_items, n).astype(np.int32)
    kind = rng.integers(0, 3, n).astype(np.int8)
    events = rec.Interactions(
        user, item, rng.random(n) * 60, kind, user.astype(np.int64), n_users, n_items
    )
    split = evaluation.Split(
        events=events,
        catalogue=rec.Catalogue(np.zeros(n_items, np.int32), np.ones(n_items, bool), 1),
        params=rec.RecParams(),
        eval_users=np.arange(n_users),
        sources=np.arange(n_items),
        excluded=np.zeros(0, np.int64),
    )
    matrix = evaluation._user_item(split, evaluation._type_weights(split))
    for model_class in (CosineRecommender, BM25Recommender):
        model = model_class(K=10, num_threads=1)
        with warnings.catch_warnings():  # implicit converts its own COO weighting
            warnings.simplefilter("ignore")
            model.fit(matrix, show_progress=False)
        weighted = evaluation._implicit_weighting(model, matrix)
        ours = evaluation._similarity_held_to_k(split, weighted, 10, min_users=1)
        assert np.allclose(ours.toarray(), model.similarity.toarray())
        # Held to 3, every kept pair of two products has 3 people behind it.
        seen = np.zeros((n_users, n_items))
        seen[user, item] = 1
        together = seen.T @ seen
        held = evaluation._similarity_held_to_k(split, weighted, 10, min_users=3).tocoo()
        other = held.row != held.col
        assert other.any() and (together[held.row[other], held.col[other]] >= 3).all()


def test_the_repeat_share_counts_the_slots_holding_what_the_person_did_before():
    n_items = 10
    # Person 1 saw products 2 and 5, person 2 saw product 7.
    seen = np.array([1 * n_items + 2, 1 * n_items + 5, 2 * n_items + 7])
    rec_user = np.array([1, 1, 1, 1, 2, 2, 2])
    rec_rank = np.array([1, 2, 3, 21, 1, 2, 3])
    rec_item = np.array([2, 3, 4, 5, 5, 7, 8])
    # Slots within the top 20: 6; repeats: (1, 2) and (2, 7); (1, 5) sits at rank 21, and
    # product 5 is not person 2's.
    assert metrics.repeat_share(rec_user, rec_rank, rec_item, seen, n_items) == pytest.approx(2 / 6)
    assert metrics.repeat_share(rec_user[:0], rec_rank[:0], rec_item[:0], seen, n_items) == 0.0


def test_intra_list_diversity_is_one_minus_the_share_of_same_category_pairs():
    category = np.array([0, 0, 1, 2])
    rec_user = np.array([1, 1, 1, 2, 2, 3])
    rec_rank = np.array([1, 2, 3, 1, 2, 1])
    rec_item = np.array([0, 1, 2, 0, 1, 3])
    # Person 1: 3 pairs, one within category 0; person 2: one pair, same; person 3 has 1 product.
    assert metrics.intra_list_diversity(rec_user, rec_rank, rec_item, category) == pytest.approx(
        [2 / 3, 0.0]
    )


def test_make_eval_skips_an_absent_log_with_a_message_naming_its_file(tmp_path, capsys):
    from kalido.tools.eval_logs import main

    assert main(["--datasets", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    said = capsys.readouterr().out
    assert "skipping uci:" in said and "online_retail_first20k.csv is absent" in said
    assert "nothing evaluated" in said and not (tmp_path / "out").exists()
    assert main(["--logs", "nope", "--out", str(tmp_path / "out")]) == 2
