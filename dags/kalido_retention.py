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
a task of the nightly run (or a CLI run) holds it.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Variable, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable


@task(task_id="purge")
def purge(ds: str | None = None, run_id: str | None = None) -> dict:
    from kalido.pipelines.nightly import run_purge

    key = Variable.get("kalido_pseudonym_key", default=None)
    return run_purge(pendulum.parse(ds).date(), run_id, key=key)["stages"]["purge"]


@dag(
    dag_id="kalido_retention",
    schedule=CronDataIntervalTimetable("0 4 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["kalido", "privacy"],
    doc_md=__doc__,
)
def kalido_retention():
    purge()


kalido_retention()
