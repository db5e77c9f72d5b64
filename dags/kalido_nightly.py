"""
### kalido_nightly

The nightly personalisation pipeline for one logical date (the day just ended), one task per
stage: **ingest** landing files into the restricted raw store (first moving in the files of the
object-storage drop zone `KALIDO_LANDING_URL`, when set) → **purge** (erasure requests,
suppression of erased subjects delivered again, retention rules; physical deletion) →
**pseudonymise** into staging → per user-hash shard: **gate** on consent, age and data-subject
requests, then **build_features** (views window, interests) → **similarity** once over every
shard (similar products, product popularity, audience) → per shard: **recommend** →
**ads** once (advertising cookies that may be profiled, their ad profiles and segments) →
**subject_access** (access/portability exports) → **validate** with the Great Expectations suites
of `expectations/` (a failed critical expectation fails the task, so nothing is published) →
**publish** the analyst warehouse and email feed (and mirror them to `KALIDO_EXPORT_URL`, when
set) and the ad-server export → **check_requests** (fails when a data-subject
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

Unattended (defaults in `kalido/orchestration.py`): each task retries 3 times with exponential
backoff (5, 10, 20 min) and times out after 2 h, a run after 12 h. A failure no retry can mend
(configuration, a critical quality expectation, requests needing a person) fails at once. Every
task runs in the one-slot pool `kalido`, shared with kalido_retention, so the two never work at
the same time (`airflow pools set kalido 1 "..."`, see README); a failure is recorded in the run
record and sent through the Airflow connection `kalido_alerts` (SMTP or Slack).

Dates: a task works on the `date` param when given, else on the day of the run's data interval
(scheduled runs, backfills), else on its logical date (`airflow dags test kalido_nightly D`);
a run with none of them fails at once, saying to pass `{"date": "YYYY-MM-DD"}`. Publishing an
older date than the warehouse's keeps the newer warehouse unless `replace_newer` is set.

`publish` updates the Assets `kalido_warehouse` and `kalido_email_feed`, which downstream DAGs
can be scheduled on (see kalido_feed_consumer).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, Variable, get_current_context, task

from kalido.orchestration import (
    FEED_ASSET,
    NIGHTLY_RUN_TIMEOUT,
    WAREHOUSE_ASSET,
    call_for_run,
    date_param,
    kalido_dag,
)
from kalido.stages import NIGHTLY as STAGES
from kalido.stages import PER_SHARD


def _shard_count(params: dict | None) -> int:
    return (params or {}).get("shards") or int(Variable.get("kalido_shards", default="1"))


@task(task_id="shard_plan", execution_timeout=pendulum.duration(minutes=5))
def shard_plan(params: dict | None = None) -> list[str]:
    from kalido.stores.shards import plan

    return plan(_shard_count(params))


def _stage_task(stage: str, shards):
    if stage in PER_SHARD:

        @task(task_id=stage, map_index_template="{{ shard_label }}")
        def run_shard(shard: str) -> dict:
            from kalido.pipelines.nightly import run_stage

            get_current_context()["shard_label"] = shard
            return call_for_run(run_stage, stage, shard=shard)

        return run_shard.partial().expand(shard=shards)

    if stage == "similarity":

        @task(task_id=stage)
        def run_global(shards: list[str]) -> dict:
            from kalido.pipelines.nightly import run_stage

            return call_for_run(run_stage, stage, shards=len(shards))

        return run_global(shards)

    # publish updates the warehouse and the feed: DAGs scheduled on them run after it.
    outlets = [WAREHOUSE_ASSET, FEED_ASSET] if stage == "publish" else []

    @task(task_id=stage, outlets=outlets)
    def run(params: dict | None = None) -> dict:
        from kalido.pipelines.nightly import run_stage

        params = params or {}
        return call_for_run(
            run_stage,
            stage,
            shards=_shard_count(params),
            force=bool(params.get("force")),
            replace_newer=bool(params.get("replace_newer")),
        )

    return run()


@kalido_dag(
    "kalido_nightly",
    "0 0 * * *",
    __doc__,
    tags=["kalido", "personalisation"],
    params={
        "date": date_param(
            "the day to process, YYYY-MM-DD (default: the run's data interval or logical date); "
            "required for a run triggered without a logical date"
        ),
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
        "replace_newer": Param(
            False,
            type="boolean",
            description="backfill: publish this date's warehouse even over one built for a "
            "newer date (by default an older date publishes its feed and keeps that warehouse)",
        ),
    },
    run_timeout=NIGHTLY_RUN_TIMEOUT,
    record_failures=True,
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
