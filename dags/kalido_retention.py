"""
### kalido_retention

The daily purge on its own: erasure requests, suppression of erased subjects delivered again, and
every retention rule of `kalido/policy.yaml` (landing files, restricted tables, legal archive,
feeds, access exports, logs, run records, reports, quality and evaluation outputs), deleting
physically (databases rebuilt, files rewritten). A purge report lands in `reports/purge/`.

The nightly run purges too (right after ingest); this DAG keeps retention running on days without a
nightly run. Wiring only: one call to `kalido.pipelines.nightly.run_purge`, the code `kalido purge`
runs. Scheduled after the nightly run; both write the same stores, so never concurrently: the
purge holds the run lock (`runs/run.lock`) exclusively, and fails at once, writing nothing, while
a task of the nightly run (or a CLI run) holds it, and is retried with backoff. Its task shares
the one-slot pool `kalido` with the nightly tasks, so Airflow never starts it beside one; task
defaults, the date rule and the failure alert (connection `kalido_alerts`) are the nightly DAG's
(`kalido/orchestration.py`).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, Variable, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from kalido.orchestration import RETENTION_RUN_TIMEOUT, call, default_args, run_date


@task(task_id="purge")
def purge() -> dict:
    from kalido.pipelines.nightly import run_purge

    context = get_current_context()
    key = Variable.get("kalido_pseudonym_key", default=None)
    return call(run_purge, run_date(context), context["run_id"], key=key)["stages"]["purge"]


@dag(
    dag_id="kalido_retention",
    schedule=CronDataIntervalTimetable("0 4 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # The purge records its own failure (run_purge); the alert comes from the defaults.
    default_args=default_args(),
    dagrun_timeout=RETENTION_RUN_TIMEOUT,
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="the day to purge as of, YYYY-MM-DD (default: the run's data interval "
            "or logical date)",
        )
    },
    tags=["kalido", "privacy"],
    doc_md=__doc__,
)
def kalido_retention():
    purge()


kalido_retention()
