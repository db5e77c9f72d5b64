"""The real Airflow DAG: it imports cleanly, and `airflow dags test` gives the CLI's warehouse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import KEY, ROOT, kalido, query, warehouse_tables
from tests.landing import Landing
from tests.test_gates_scenario import D, build_scenario

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict:
    airflow_home = tmp_path_factory.mktemp("airflow")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "KALIDO_PSEUDONYM_KEY": KEY,
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def test_every_dag_imports_without_errors(airflow_env):
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag()\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "dag = bag.get_dag('kalido_nightly')\n"
        "assert dag.doc_md and [t.task_id for t in dag.tasks] == "
        "['shard_plan', 'ingest', 'purge', 'pseudonymise', 'gate', 'build_features', 'similarity',"
        " 'recommend', 'subject_access', 'validate', 'publish', 'check_requests']\n"
        "mapped = {t.task_id for t in dag.tasks if t.is_mapped}\n"
        "assert mapped == {'gate', 'build_features', 'recommend'}, mapped\n"
        "retention = bag.get_dag('kalido_retention')\n"
        "assert retention.doc_md and [t.task_id for t in retention.tasks] == ['purge']\n"
    )
    subprocess.run([sys.executable, "-c", code], env=airflow_env, check=True, cwd=ROOT)


@pytest.mark.slow
def test_airflow_dags_test_publishes_the_same_warehouse_as_kalido_run(tmp_path, airflow_env):
    """Three mapped shards under Airflow, one shard in the CLI: the same warehouse."""
    via_airflow, via_cli = tmp_path / "airflow_home", tmp_path / "cli_home"
    build_scenario(Landing(via_airflow))
    shutil.copytree(via_airflow, via_cli)
    result = subprocess.run(
        [AIRFLOW, "dags", "test", "kalido_nightly", D.isoformat(), "-c", '{"shards": 3}'],
        env={**airflow_env, "KALIDO_HOME": str(via_airflow)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    kalido(
        "run",
        "--date",
        D.isoformat(),
        env={"KALIDO_HOME": str(via_cli), "KALIDO_PSEUDONYM_KEY": KEY},
    )
    airflow_tables = warehouse_tables(via_airflow / "warehouse/analytics.duckdb")
    assert airflow_tables["recommendations"]
    assert airflow_tables == warehouse_tables(via_cli / "warehouse/analytics.duckdb")
    runs = query(
        via_airflow / "warehouse/analytics.duckdb", "select run_id, status from pipeline_runs"
    )
    assert len(runs) == 1 and runs[0][0].startswith("manual__") and runs[0][1] == "success"
    assert (via_airflow / f"exports/email_recommendations/dt={D}/manifest.json").exists()
    assert sorted(p.name for p in (via_airflow / "work/shards").iterdir()) == [
        "0-of-3.duckdb",
        "1-of-3.duckdb",
        "2-of-3.duckdb",
    ]
