"""
### kalido_nightly

The nightly personalisation pipeline for one logical date (the day just ended), one task per
stage: **ingest** landing files into the restricted raw store (first moving in the files of the
object-storage drop zone `KALIDO_LANDING_URL`, when set) → **purge** (erasure requests,
suppression of erased subjects delivered again, retention rules; physical deletion) →
**pseudonymise** into staging → per user-hash shard: **gate** on consent, age and data-subject
requests, then **build_features** (views window, interests) → **similarity** once over every
shard (similar products, product popularity, audience) → per shard: **recommend** →
**subject_access** (access/portability exports) → **validate** with the Great Expectations suites
of `expectations/` (a failed critical expectation fails the task, so nothing is published) →
**publish** the analyst warehouse and email feed (and mirror them to `KALIDO_EXPORT_URL`, when
set) → **check_requests** (fails when a data-subject
request is overdue or failed).

Wiring only: every task is one call into `kalido.pipelines.nightly.run_stage`, the same code the
`kalido run` CLI runs. The pseudonym key comes from the Airflow Variable `kalido_pseudonym_key`
(or a secrets backend behind it), else from `KALIDO_PSEUDONYM_KEY`; `KALIDO_HOME` from the
environment.

A rerun of a date with nothing new (same files, code, policy and stores as its last successful
run left them) skips every stage and only adds itself to `pipeline_runs`; the `force` param runs
them anyway.

One run at a time on a KALIDO_HOME: each task holds the run lock (`runs/run.lock`) shared while
it works, so the shard tasks of this run work side by side, while a task finds the home held by a
different run (a `kalido run`, `purge` or `rotate-key`, or the kalido_retention purge) fails at
once, writing nothing, with a message naming that run. `max_active_runs=1` keeps two runs of
this DAG apart; between two tasks of a run nothing holds the lock.

Shards: the per-shard tasks are mapped (dynamic task mapping) over `shard_plan`'s labels
`<i>-of-<N>`; N is the run's `shards` param, else the Airflow Variable `kalido_shards`, else 1.
Any N publishes the same warehouse and feed; with the CeleryExecutor or KubernetesExecutor the
shards of a stage run on several workers sharing KALIDO_HOME (see README, "Past one machine").
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, Variable, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

PER_SHARD = ("gate", "build_features", "recommend")
STAGES = (
    "ingest",
    "purge",
    "pseudonymise",
    "gate",
    "build_features",
    "similarity",
    "recommend",
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


def _shard_count(params: dict | None) -> int:
    return (params or {}).get("shards") or int(Variable.get("kalido_shards", default="1"))


@task(task_id="shard_plan")
def shard_plan(params: dict | None = None) -> list[str]:
    from kalido.shards import plan

    return plan(_shard_count(params))


def _stage_task(stage: str, shards):
    if stage in PER_SHARD:

        @task(
            task_id=stage,
            on_failure_callback=_record_failure,
            map_index_template="{{ shard_label }}",
        )
        def run_shard(shard: str, ds: str | None = None, run_id: str | None = None) -> dict:
            from kalido.pipelines.nightly import run_stage

            get_current_context()["shard_label"] = shard
            key = Variable.get("kalido_pseudonym_key", default=None)
            return run_stage(stage, pendulum.parse(ds).date(), run_id, key=key, shard=shard)

        return run_shard.partial().expand(shard=shards)

    if stage == "similarity":

        @task(task_id=stage, on_failure_callback=_record_failure)
        def run_global(shards: list[str], ds: str | None = None, run_id: str | None = None) -> dict:
            from kalido.pipelines.nightly import run_stage

            key = Variable.get("kalido_pseudonym_key", default=None)
            count = len(shards)
            return run_stage(stage, pendulum.parse(ds).date(), run_id, key=key, shards=count)

        return run_global(shards)

    @task(task_id=stage, on_failure_callback=_record_failure)
    def run(ds: str | None = None, run_id: str | None = None, params: dict | None = None) -> dict:
        from kalido.pipelines.nightly import run_stage

        key = Variable.get("kalido_pseudonym_key", default=None)
        return run_stage(
            stage,
            pendulum.parse(ds).date(),
            run_id,
            key=key,
            shards=_shard_count(params),
            force=bool((params or {}).get("force")),
        )

    return run()


@dag(
    dag_id="kalido_nightly",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # every run writes the same stores
    params={
        "shards": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="user-hash shards (default: Variable kalido_shards, else 1)",
        ),
        "force": Param(
            False,
            type="boolean",
            description="run every stage even when nothing changed since the last successful "
            "run of this date (otherwise such a rerun skips them)",
        ),
    },
    tags=["kalido", "personalisation"],
    doc_md=__doc__,
)
def kalido_nightly():
    shards = shard_plan()
    previous = None
    for stage in STAGES:
        current = _stage_task(stage, shards)
        if previous is not None:
            previous >> current
        previous = current


kalido_nightly()
