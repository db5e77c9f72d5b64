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

from airflow.sdk import task

from kalido.orchestration import RETENTION_RUN_TIMEOUT, call_for_run, date_param, kalido_dag


@task(task_id="purge")
def purge() -> dict:
    from kalido.pipelines.nightly import run_purge

    return call_for_run(run_purge)["stages"]["purge"]


# The purge records its own failure (run_purge); the alert comes from the defaults.
@kalido_dag(
    "kalido_retention",
    "0 4 * * *",
    __doc__,
    tags=["kalido", "privacy"],
    params={
        "date": date_param(
            "the day to purge as of, YYYY-MM-DD (default: the run's data interval or logical date)"
        )
    },
    run_timeout=RETENTION_RUN_TIMEOUT,
)
def kalido_retention():
    purge()


kalido_retention()
