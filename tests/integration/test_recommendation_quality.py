"""Recommendations for discovery, one set of event weights, and the nightly self-check."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from kalido.config import PROJECT_ROOT, Layout
from kalido.features.params import rec_params
from kalido.pipelines.nightly import run_stage
from kalido.policy import LEARNABLE_WEIGHTS, load_policy
from kalido.stores import learned
from kalido.stores.feature_tables import learned_params
from tests.conftest import KEY, kalido, query

DATE = "2026-11-24"


def run(home: Path, *extra: str, env: dict | None = None) -> None:
    kalido(
        "run",
        "--date",
        DATE,
        *extra,
        env={"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": KEY, **(env or {})},
    )


@pytest.fixture(scope="module")
def zone(tmp_path_factory) -> Path:
    """Twelve generated days: a held-back week and enough before it to train on."""
    zone = tmp_path_factory.mktemp("zone")
    kalido("generate", "--days", "12", "--users", "300", "--products", "120", "--out", str(zone))
    return zone


@pytest.fixture(scope="module")
def home(zone, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(zone / "landing", home / "landing")
    run(home)
    return home


def warehouse(home: Path) -> Path:
    return home / "warehouse/analytics.duckdb"


@pytest.mark.slow
def test_recommendation_quality_is_published_nightly_and_a_rerun_gives_the_same(home, tmp_path):
    columns = (
        "logical_date, users, hr_at_20, mrr_at_20, baseline_hr_at_20, baseline_mrr_at_20,"
        " coverage, baseline_coverage, hr_gap, hr_gap_ci95, weights"
    )
    (row,) = query(warehouse(home), f"select {columns} from recommendation_quality")
    assert str(row[0]) == DATE and row[1] > 20
    assert all(0 <= value <= 1 for value in (row[2], row[3], row[4], row[5], row[6], row[7]))
    assert row[2] >= row[3] > 0  # MRR is at most HR
    assert abs(row[8] - (row[2] - row[4])) < 1e-5
    assert '"repeat_weight": 0.0' in row[10]
    rerun = tmp_path / "home"  # the module's home stays as its one night left it
    shutil.copytree(home, rerun, symlinks=True)
    run(rerun, "--force")
    assert query(warehouse(rerun), f"select {columns} from recommendation_quality") == [row]


@pytest.mark.slow
def test_no_recommendation_is_a_product_the_person_viewed_in_the_last_30_days(home):
    repeats = query(
        warehouse(home),
        "select count(*) from recommendations as r"
        " inner join views_recent as v using (user_pid, product_id)"
        " where v.viewed_at >= timestamptz '2026-11-24 23:00:00+00' - interval 30 day",
    )
    assert repeats == [(0,)]
    assert query(warehouse(home), "select count(*) from recommendations")[0][0] > 1000
    # A reason is never the product itself.
    own = query(
        warehouse(home),
        "select count(*) from recommendations where reason = 'because_viewed:' || product_id",
    )
    assert own == [(0,)]


@pytest.mark.slow
def test_one_set_of_event_weights_moves_interests_and_recommendations(zone, home, tmp_path):
    policy = yaml.safe_load((PROJECT_ROOT / "kalido/policy.yaml").read_text(encoding="utf-8"))
    tuning = policy["profiling"]["recommender"]
    tuning["view_weight"], tuning["cart_weight"] = 0.05, 40.0
    changed = tmp_path / "policy.yaml"
    changed.write_text(yaml.safe_dump(policy), encoding="utf-8")
    other = tmp_path / "home"
    shutil.copytree(zone / "landing", other / "landing")
    run(other, env={"KALIDO_POLICY": str(changed)})
    for table in ("interest_profiles", "recommendations"):
        columns = (
            "user_pid, category, score"
            if table == "interest_profiles"
            else "user_pid, rank, product_id"
        )
        before = query(warehouse(home), f"select {columns} from {table} order by all")
        after = query(warehouse(other), f"select {columns} from {table} order by all")
        assert before and after and before != after, table


@pytest.mark.slow
def test_the_learned_weights_are_recorded_and_are_what_the_recommend_stage_used(home):
    (weights,) = query(warehouse(home), "select weights from recommendation_quality")[0]
    weights = json.loads(weights)
    learned = weights["learned"]
    assert set(learned) == set(LEARNABLE_WEIGHTS)
    tuning = load_policy().profiling.recommender
    assert learned["trend_weight"]["prior"] == tuning.trend_weight
    for name, evidence in learned.items():
        assert weights[name] == evidence["chosen"]
        # A value moves only on a gain beyond its interval; else it is the policy's.
        moved = evidence["chosen"] != evidence["prior"]
        assert moved == (evidence["gain"] > evidence["ci95"]), name
    # The run record holds the same, and the recommend stage read them back from rec_weights.
    (stages,) = query(warehouse(home), "select stage_counts from pipeline_runs")[0]
    assert json.loads(json.loads(stages)["similarity"]["quality_weights"]) == weights
    used = query(home / "work/pipeline.duckdb", "select name, value from rec_weights order by 1")
    assert dict(used) == {name: weights[name] for name in LEARNABLE_WEIGHTS}


def test_the_recommend_stage_reads_the_nights_learned_weights(tmp_path):
    import duckdb

    prior = rec_params(load_policy().profiling)
    with duckdb.connect(str(tmp_path / "work.duckdb")) as con:
        con.execute("create table rec_weights (name varchar, value double)")
        con.execute(
            "insert into rec_weights values ('trend_weight', 1.0), ('profile_weight', 0.25)"
        )
        params = learned_params(con, prior)
    assert (params.trend_weight, params.profile_weight) == (1.0, 0.25)
    assert params.half_life_days == prior.half_life_days
    assert prior.trend_weight != 1.0


@pytest.mark.slow
def test_the_weights_learned_in_a_period_are_kept_through_it(home, tmp_path, monkeypatch):
    # The night learned and kept its weights for its week (2026-11-23, a Monday, to 11-29).
    kept = json.loads((home / "work/learned_weights.json").read_text(encoding="utf-8"))
    assert list(kept) == ["2026-11-23"]
    assert set(kept["2026-11-23"]["values"]) == set(load_policy().profiling.learned_weights)
    # Another night of the week uses them, learning nothing: a kept value it would never choose
    # itself shows it (on a copy of the home, the similarity stage alone).
    other = tmp_path / "home"
    shutil.copytree(home, other)
    kept["2026-11-23"]["values"]["trend_weight"] = 0.123
    (other / "work/learned_weights.json").write_text(json.dumps(kept), encoding="utf-8")
    monkeypatch.setenv("KALIDO_HOME", str(other))
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY", KEY)
    counts = run_stage("similarity", date(2026, 11, 26), "kept__weights", force=True)
    weights = json.loads(counts["quality_weights"])
    assert weights["trend_weight"] == 0.123
    assert weights["learned"] == kept["2026-11-23"]["evidence"]
    used = query(
        other / "work/pipeline.duckdb",
        "select value from rec_weights where name = $n",
        {"n": "trend_weight"},
    )
    assert used == [(0.123,)]


def test_a_learning_period_starts_on_a_monday_and_a_few_are_kept(tmp_path):
    layout = Layout(tmp_path)
    assert learned.period_start(date(2026, 11, 29), 7) == date(2026, 11, 23)
    assert learned.period_start(date(2026, 11, 30), 7) == date(2026, 11, 30)
    assert learned.stored(layout, date(2026, 11, 24), 7) is None
    for week in range(6):
        night = date(2026, 11, 2) + timedelta(days=7 * week)
        learned.store(layout, night, 7, {"trend_weight": float(week)}, {})
    assert learned.stored(layout, date(2026, 12, 13), 7)["values"] == {"trend_weight": 5.0}
    assert learned.stored(layout, date(2026, 11, 25), 7)["values"] == {"trend_weight": 3.0}
    assert learned.stored(layout, date(2026, 11, 10), 7) is None  # older than the kept periods
