"""The real Airflow DAGs: they import cleanly and run unattended (read in this process, through the
`dagbag` fixture), and `airflow dags test` gives the warehouse a run without Airflow gives."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from kalido.stages import NIGHTLY, PER_SHARD
from tests.conftest import KEY, ROOT, query, warehouse_tables
from tests.landing import Landing
from tests.scenarios.gates import D, build_scenario

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


def test_every_dag_imports_without_errors(dagbag):
    assert not dagbag.import_errors, dagbag.import_errors
    dag = dagbag.dags["kalido_nightly"]
    assert dag.doc_md and [t.task_id for t in dag.tasks] == ["shard_plan", *NIGHTLY]
    mapped = {t.task_id for t in dag.tasks if t.is_mapped}
    assert mapped == set(PER_SHARD), mapped
    retention = dagbag.dags["kalido_retention"]
    assert retention.doc_md and [t.task_id for t in retention.tasks] == ["purge"]


@pytest.mark.slow
def test_airflow_dags_test_publishes_the_same_warehouse_as_kalido_run(
    tmp_path, airflow_env, gate_night
):
    """Three mapped shards under Airflow, one shard without (the gate scenario's night D, run
    once for the session by run_nightly, what `kalido run` calls): the same warehouse."""
    via_airflow, via_cli = tmp_path / "airflow_home", gate_night.home
    build_scenario(Landing(via_airflow))
    result = subprocess.run(
        [AIRFLOW, "dags", "test", "kalido_nightly", D.isoformat(), "-c", '{"shards": 3}'],
        env={**airflow_env, "KALIDO_HOME": str(via_airflow)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
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


def test_the_dags_run_unattended_in_one_pool_and_publish_assets(dagbag):
    """Retries with backoff and a timeout on every task, a run timeout, the one-slot pool of the
    nightly and retention DAGs, the failure callbacks, and publish's Assets with a consumer."""
    from kalido.orchestration import FailureAlert, record_failure

    assert not dagbag.import_errors, dagbag.import_errors
    nightly, retention = dagbag.dags["kalido_nightly"], dagbag.dags["kalido_retention"]
    assert nightly.dagrun_timeout and retention.dagrun_timeout
    for task in [*nightly.tasks, *retention.tasks]:
        assert (task.pool, task.pool_slots) == ("kalido", 1), task.task_id
        assert task.retries >= 2 and task.retry_exponential_backoff, task.task_id
        assert timedelta(0) < task.execution_timeout <= timedelta(hours=2), task.task_id
        kinds = [type(c) for c in task.on_failure_callback]
        assert FailureAlert in kinds, task.task_id
        recorded = record_failure in task.on_failure_callback
        assert recorded == (task.dag_id == "kalido_nightly"), task.task_id
    publish = nightly.get_task("publish")
    assert {a.name for a in publish.outlets} == {"kalido_warehouse", "kalido_email_feed"}
    assert not any(t.outlets for t in nightly.tasks if t.task_id != "publish")
    assert {"date", "force", "replace_newer", "shards"} <= set(nightly.params)
    consumer = dagbag.dags["kalido_feed_consumer"]
    schedule = str(consumer.timetable.asset_condition)
    assert consumer.doc_md and "kalido_email_feed" in schedule, schedule


def test_a_task_takes_its_date_from_the_date_param_or_the_data_interval():
    from types import SimpleNamespace

    import pendulum

    from kalido.orchestration import NoRunDate, run_date

    def at(day: str):
        return pendulum.parse(day)

    scheduled = SimpleNamespace(run_type="scheduled")
    manual = SimpleNamespace(run_type="manual")
    # A scheduled run works on its data interval; `airflow dags test kalido_nightly D` (manual,
    # interval ending at D) on D, as `kalido run --date D` does; the date param wins.
    interval = {"data_interval_start": at("2026-11-23"), "logical_date": at("2026-11-23")}
    assert str(run_date({**interval, "dag_run": scheduled})) == "2026-11-23"
    test_run = {"data_interval_start": at("2026-11-23"), "logical_date": at("2026-11-24")}
    assert str(run_date({**test_run, "dag_run": manual})) == "2026-11-24"
    assert str(run_date({**test_run, "params": {"date": "2026-11-01"}})) == "2026-11-01"
    # A manual trigger with no logical date: a clear error, not pendulum.parse(None).
    nothing = {"dag_run": manual, "logical_date": None, "data_interval_start": None}
    with pytest.raises(NoRunDate, match='"date": "2026-11-24"'):
        run_date(nothing)
    with pytest.raises(NoRunDate, match="YYYY-MM-DD"):
        run_date({**nothing, "params": {"date": "yesterday"}})


class _SmtpSink:
    """A local SMTP server that keeps every message it receives (the alert's recipient)."""

    def __init__(self):
        import socketserver
        import threading

        messages = self.messages = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink\r\n")
                while line := self.rfile.readline():
                    command = line.strip().upper()
                    if command == b"DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = b"".join(iter(self.rfile.readline, b".\r\n"))
                        messages.append(data.decode("utf-8", "replace"))
                        self.wfile.write(b"250 kept\r\n")
                    elif command == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:  # EHLO, MAIL FROM, RCPT TO, RSET, NOOP
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_failed_task_alerts_through_the_kalido_alerts_connection(tmp_path, airflow_env):
    """The failure notifier is called on a real failure (here a short key: a configuration
    error, so no retry) and mails through the SMTP connection `kalido_alerts`, naming the DAG,
    task and run, never the secret or a value from the data."""
    import base64
    import email
    import json

    sink = _SmtpSink()
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": sink.port,
        "extra": {
            "to": "data-oncall@example.org",
            "from_email": "kalido@example.org",
            "disable_ssl": True,
            "disable_tls": True,
        },
    }
    short_key = "short-secret-value"
    try:
        result = subprocess.run(
            [AIRFLOW, "dags", "test", "kalido_retention", "2026-11-24"],
            env={
                **airflow_env,
                "KALIDO_HOME": str(tmp_path),
                "KALIDO_PSEUDONYM_KEY": short_key,
                "AIRFLOW_CONN_KALIDO_ALERTS": json.dumps(connection),
            },
            capture_output=True,
            text=True,
        )
    finally:
        sink.close()
    assert result.returncode != 0 or "failed" in result.stdout + result.stderr
    assert len(sink.messages) == 1, result.stdout[-2000:] + result.stderr[-2000:]
    message = email.message_from_string(sink.messages[0])
    assert message["To"] == "data-oncall@example.org"
    assert message["Subject"].startswith("kalido: kalido_retention.purge failed (manual__")
    body = "".join(
        base64.b64decode(part.get_payload()).decode()
        for part in message.walk()
        if part.get_content_type() == "text/html"
    )
    assert "failure: ConfigError" in body and "try: 1" in body
    assert short_key not in sink.messages[0] + body
