"""User-hash shards: `kalido run --shards N` publishes exactly what one shard publishes."""

from __future__ import annotations

import fnmatch
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from kalido.config import Layout
from kalido.pipelines import recommend as recommend_stage
from kalido.pipelines.nightly import preflight
from kalido.policy import load_policy
from kalido.pseudonyms import pseudonym
from kalido.stores.shards import Shard, shard_of
from kalido.tools.airflow_local import _overlaps
from kalido.tools.generate import generate_landing
from tests.conftest import KEY, kalido, query

DATE = "2026-11-24"
# Differ by run, not by data: which run wrote the row, and when.
RUN_COLUMNS = {
    "run_id",
    "started_at",
    "finished_at",
    "stage_counts",
    "generated_at",
    "published_at",
}


def published(home: Path) -> dict[str, list[tuple]]:
    """Every warehouse table (all columns but RUN_COLUMNS, sorted) and the email feed."""
    tables = {}
    with duckdb.connect(str(home / "warehouse/analytics.duckdb"), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        for table in sorted(names):
            columns = [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where table_name = $t "
                    "order by column_index",
                    {"t": table},
                ).fetchall()
                if r[0] not in RUN_COLUMNS
            ]
            selected = ", ".join(f'"{c}"' for c in columns)
            tables[table] = con.execute(f"select {selected} from {table} order by all").fetchall()
    feed = home / f"exports/email_recommendations/dt={DATE}"
    manifest = json.loads((feed / "manifest.json").read_text())
    tables["feed.csv"] = [(feed / "recommendations.csv").read_bytes()]
    tables["feed.manifest"] = [(k, v) for k, v in sorted(manifest.items()) if k not in RUN_COLUMNS]
    return tables


@pytest.fixture(scope="module")
def homes(tmp_path_factory) -> dict[int, Path]:
    """The same generated zone run with 1 and with 3 shards (different homes, same key)."""
    zone = tmp_path_factory.mktemp("zone")
    generate_landing(zone, days=4, users=300, products=120, seed=7)
    homes = {}
    for count in (1, 3):
        home = tmp_path_factory.mktemp(f"shards{count}")
        shutil.copytree(zone / "landing", home / "landing")
        # The same secrets: request pseudonyms are keyed with the suppression secret.
        env = {
            "KALIDO_HOME": str(home),
            "KALIDO_PSEUDONYM_KEY": KEY,
            "KALIDO_SUPPRESSION_KEY": "test-suppression-key-0123456789abcdef",
        }
        kalido("run", "--date", DATE, "--shards", str(count), env=env)
        homes[count] = home
    return homes


@pytest.mark.slow
def test_three_shards_publish_exactly_what_one_shard_publishes(homes):
    one, three = published(homes[1]), published(homes[3])
    assert one["recommendations"] and one["product_similarity"] and one["feed.csv"][0]
    assert one.keys() == three.keys()
    for name in one:
        assert one[name] == three[name], name


@pytest.mark.slow
def test_each_shard_holds_only_its_own_users(homes):
    home = homes[3]
    everyone = set()
    for index in range(3):
        path = Shard(index, 3).path(Layout(home))
        users = {r[0] for r in query(path, "select user_pid from gate_customers")}
        assert users and {shard_of(u, 3) for u in users} == {index}
        recommended = {
            r[0] for r in query(path, "select distinct user_pid from feat_recommendations")
        }
        assert recommended <= users
        assert not users & everyone
        everyone |= users
    warehouse = home / "warehouse/analytics.duckdb"
    published_users = {
        r[0] for r in query(warehouse, "select distinct user_pid from recommendations")
    }
    assert published_users <= everyone
    record = json.loads(next((home / "runs").glob("*.json")).read_text())
    gate = record["stages"]["gate"]
    assert set(gate["shards"]) == {"0-of-3", "1-of-3", "2-of-3"}
    assert gate["may_profile"] == sum(s["may_profile"] for s in gate["shards"].values())


@pytest.mark.slow
def test_recommendations_written_slice_by_slice_are_one_sorted_table(homes, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(homes[1], home)
    work = home / "work/pipeline.duckdb"
    written_whole = query(work, "select * from feat_recommendations")
    monkeypatch.setenv("KALIDO_HOME", str(home))
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY", KEY)
    monkeypatch.setattr(recommend_stage, "OUTPUT_SLICE_ROWS", 7)
    settings, policy = preflight()
    recommend_stage.recommend(settings, policy, date.fromisoformat(DATE), "slices")
    written_in_slices = query(work, "select * from feat_recommendations")
    assert len(written_whole) > 100 * 7
    assert written_in_slices == written_whole
    assert written_in_slices == sorted(written_in_slices, key=lambda row: row[:2])


def test_a_pseudonym_falls_in_the_shard_whose_range_holds_it():
    pids = [pseudonym(KEY.encode(), "customer", f"C{i:07d}") for i in range(2000)]
    for count in (1, 2, 3, 7):
        shards = [Shard(i, count) for i in range(count)]
        sizes = [0] * count
        for pid in pids:
            inside = [
                s.index for s in shards if s.params["shard_from"] <= pid < s.params["shard_to"]
            ]
            assert inside == [shard_of(pid, count)]
            sizes[inside[0]] += 1
        assert min(sizes) > len(pids) / count * 0.8  # leading letters are uniform
    assert Shard.parse("2-of-5") == Shard(2, 5)
    with pytest.raises(ValueError):
        Shard.parse("5-of-5")


@pytest.mark.slow
def test_every_file_and_table_of_a_sharded_run_has_a_retention_rule(homes):
    home = homes[3]
    stores = load_policy().retention.values()
    files = [p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()]
    assert "work/shards/2-of-3.duckdb" in files
    for relative in files:
        covering = [s for s in stores if fnmatch.fnmatch(relative, s.location)]
        assert covering, f"no retention rule covers {relative}"
        if relative.endswith(".duckdb"):
            for (table,) in query(home / relative, "select table_name from duckdb_tables()"):
                assert any(s.table and fnmatch.fnmatch(table, s.table) for s in covering), table


@pytest.mark.slow
def test_a_later_run_with_one_shard_drops_the_shard_files(homes, tmp_path):
    """Reruns a copy of the three-shard home with one shard."""
    home = tmp_path / "home"
    shutil.copytree(homes[3], home, symlinks=True)
    # The fixture's secrets: the feed's recipient_pid is keyed with the suppression secret.
    env = {
        "KALIDO_HOME": str(home),
        "KALIDO_PSEUDONYM_KEY": KEY,
        "KALIDO_SUPPRESSION_KEY": "test-suppression-key-0123456789abcdef",
    }
    kalido("run", "--date", DATE, env=env)
    assert not list((home / "work/shards").glob("*"))
    again, once = published(home), published(homes[1])
    assert len(again.pop("pipeline_runs")) == 2 and len(once.pop("pipeline_runs")) == 1
    assert again == once


def test_airflow_local_tells_overlapping_shard_tasks_from_serial_ones():
    serial = [
        {"task_id": "gate", "start_date": "2026-01-01T00:00:00", "end_date": "2026-01-01T00:00:05"},
        {"task_id": "gate", "start_date": "2026-01-01T00:00:05", "end_date": "2026-01-01T00:00:09"},
    ]
    parallel = [*serial, {**serial[0], "start_date": "2026-01-01T00:00:04"}]
    assert not _overlaps(serial, "gate")
    assert _overlaps(parallel, "gate")
