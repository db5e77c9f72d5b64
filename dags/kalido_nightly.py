"""
### kalido_nightly

The nightly personalisation pipeline for one logical date (the day just ended), one task per
stage: **ingest** landing files into the restricted raw store → **purge** (erasure requests,
suppression of erased subjects delivered again, retention rules; physical deletion) →
**pseudonymise** into staging → **gate** on consent, age and data-subject requests →
**build_features** (views window, interests, similar products, recommendations, audience) →
**subject_access** (access/portability exports) → **validate** with the Great Expectations suites
of `expectations/` (a failed critical expectation fails the task, so nothing is published) →
**publish** the analyst warehouse and email feed → **check_requests** (fails when a data-subject
request is overdue or failed).

Wiring only: every task is one call into `kalido.pipelines.nightly.run_stage`, the same code the
`kalido run` CLI runs. The pseudonym key comes from the Airflow Variable `kalido_pseudonym_key`
(or a secrets backend behind it), else from `KALIDO_PSEUDONYM_KEY`; `KALIDO_HOME` from the
environment.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Variable, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

STAGES = (
    "ingest",
    "purge",
    "pseudonymise",
    "gate",
    "build_features",
    "subject_access",
    "validate",
    "publish",
    "check_requests",
)


def _record_failure(context) -> None:
    from kalido.pipelines.nightly import record_failure

    record_failure(
        pendulum.parse(context["ds"]).date(),
        context["run_id"],
        context["ti"].task_id,
        context.get("exception") or RuntimeError("task failed"),
    )


def _stage_task(stage: str):
    @task(task_id=stage, on_failure_callback=_record_failure)
    def run(ds: str | None = None, run_id: str | None = None) -> dict:
        from kalido.pipelines.nightly import run_stage

        key = Variable.get("kalido_pseudonym_key", default=None)
        return run_stage(stage, pendulum.parse(ds).date(), run_id, key=key)

    return run()


@dag(
    dag_id="kalido_nightly",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # every run writes the same stores
    tags=["kalido", "personalisation"],
    doc_md=__doc__,
)
def kalido_nightly():
    previous = None
    for stage in STAGES:
        current = _stage_task(stage)
        if previous is not None:
            previous >> current
        previous = current


kalido_nightly()
