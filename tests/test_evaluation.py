"""`kalido evaluate`: the harness's work folder belongs to one evaluation at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest

from kalido import evaluation, synthetic_retailrocket
from kalido import recommender as rec
from kalido.evaluation import locked
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
    # The README's RetailRocket-scale route, small: synthetic log → import-events → evaluate.
    table = synthetic_retailrocket.generate(visitors=10_000, products=500, groups=20)
    source = tmp_path / "events.csv"
    pcsv.write_csv(table, source, pcsv.WriteOptions(quoting_style="none"))
    home = tmp_path / "zone"
    kalido("import-events", str(source), "--out", str(home))
    result = kalido("evaluate", "--home", str(home), "--split-date", "2015-09-04", "--horizon", "7")
    report = json.loads((home / "evaluation" / "report.json").read_text())
    methods = {row["method"]: row for row in report["methods"]}
    assert set(methods) == {
        "kalido",
        "kalido_k1_diagnostic",
        "popular",
        "recent_popular_7d",
        "category_popular",
        "sar_jaccard",
        "implicit_cosine",
        "implicit_bm25",
    }
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
