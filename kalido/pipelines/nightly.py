"""The nightly pipeline as named stages; the CLI and the Airflow DAG both call run_stage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

from kalido import stages, warehouse
from kalido.config import ConfigError, Layout, Settings, default_home, load_settings, policy_path
from kalido.db import in_fresh_process
from kalido.pipelines.ads import ads
from kalido.pipelines.build_features import build_features
from kalido.pipelines.gate import gate
from kalido.pipelines.ingest import ingest
from kalido.pipelines.pseudonymise import pseudonymise
from kalido.pipelines.publish import publish, republish_run_table
from kalido.pipelines.purge import purge
from kalido.pipelines.recommend import recommend
from kalido.pipelines.requests import answer_access_requests, check_requests
from kalido.pipelines.rotate import check_key_version, rotate_key
from kalido.pipelines.similarity import build_similarity
from kalido.pipelines.validate import validate
from kalido.policy import Policy, load_policy
from kalido.stores import objectstore, runs, staged, unchanged
from kalido.stores.identities import check_key
from kalido.stores.shards import Shard, plan

log = logging.getLogger(__name__)

Stage = Callable[[Settings, Policy, date, str], dict]
_CALLS: dict[str, Stage] = {
    "ingest": ingest,
    "purge": purge,
    "pseudonymise": pseudonymise,
    "gate": gate,
    "build_features": build_features,
    "similarity": build_similarity,
    "recommend": recommend,
    "ads": ads,
    "subject_access": answer_access_requests,
    "validate": validate,
    "publish": publish,
    "check_requests": check_requests,
}
STAGES: dict[str, Stage] = {name: _CALLS[name] for name in stages.NIGHTLY}
PER_SHARD = stages.PER_SHARD
FIRST_STAGE, *_, LAST_STAGE = STAGES


def configure(key: str | None = None) -> tuple[Settings, Policy]:
    """Validate the configuration, reading no store (ConfigError otherwise)."""
    settings = load_settings(key)
    policy = load_policy(policy_path())
    objectstore.check_urls(settings)
    return settings, policy


def check_stores(settings: Settings) -> None:
    """Validate the configuration against the stores (the key against the identity table); run
    under the run lock, as another run's writes would make these reads fail."""
    check_key_version(settings)
    check_key(settings)


def preflight(key: str | None = None) -> tuple[Settings, Policy]:
    """Validate configuration before anything is read or written (ConfigError otherwise)."""
    settings, policy = configure(key)
    check_stores(settings)
    return settings, policy


def run_stage(
    stage: str,
    logical_date: date,
    run_id: str,
    key: str | None = None,
    shard: Shard | str | None = None,
    shards: int = 1,
    force: bool = False,
    replace_newer: bool = False,
) -> dict:
    """Run one stage for the logical date (one shard of a per-shard stage: `shard`, a Shard or
    its label `<i>-of-<n>`; default the only one; `shards`: the run's shard count) and add its
    counts to the run record.

    The first stage decides whether the run has anything to do (see unchanged.py; `force`
    overrides); when not, every stage but the requests' check only records that it was skipped.
    `replace_newer`: publish replaces a warehouse built for a newer date (a backfill otherwise
    keeps it, see publish.py).

    An Airflow task holds the run lock shared while it works (see runs.shared): it is refused
    while a different run holds the home."""
    settings, policy = configure(key)
    with runs.shared(settings.layout, run_id):
        check_stores(settings)
        return _run_stage(
            settings, policy, stage, logical_date, run_id, shard, shards, force, replace_newer
        )


def _replaces_newer(layout: Layout, logical_date: date, replace_newer: bool) -> bool:
    """A backfill asked to replace a newer date's warehouse has that to do, even with nothing
    new since its last run (which kept the newer one)."""
    built_for = warehouse.published_date(layout.warehouse) if replace_newer else None
    return built_for is not None and built_for > logical_date


def _run_stage(
    settings: Settings,
    policy: Policy,
    stage: str,
    logical_date: date,
    run_id: str,
    shard: Shard | str | None,
    shards: int,
    force: bool,
    replace_newer: bool = False,
) -> dict:
    layout = settings.layout
    runs.start_run(layout, run_id, logical_date)
    started = time.perf_counter()
    # Files waiting on object storage make the run one with work to do: they come in first.
    pulled = (
        objectstore.pull_landing(settings, logical_date)
        if stage == FIRST_STAGE and settings.landing_url
        else {}
    )
    if (
        stage == FIRST_STAGE
        and not force
        and not _replaces_newer(layout, logical_date, replace_newer)
    ):
        previous = unchanged.unchanged_since(settings, logical_date, shards)
        if previous:
            runs.mark_unchanged(layout, run_id, previous)
    same_as = runs.read_run(layout, run_id).get("unchanged_since")
    if same_as and stage != LAST_STAGE:
        counts = {"skipped": f"nothing changed since run {same_as}"}
        if stage == "publish":
            republish_run_table(settings, run_id, logical_date)
    elif stage in PER_SHARD:
        shard = Shard.parse(shard) if isinstance(shard, str) else shard or Shard()
        counts = STAGES[stage](settings, policy, logical_date, run_id, shard=shard)
    elif stage == "similarity":
        counts = STAGES[stage](settings, policy, logical_date, run_id, shards=shards)
    elif stage == "publish":
        counts = STAGES[stage](settings, policy, logical_date, run_id, replace_newer=replace_newer)
    else:
        counts = STAGES[stage](settings, policy, logical_date, run_id)
    counts = {**pulled, **counts}
    seconds = time.perf_counter() - started
    if stage in PER_SHARD and not same_as:
        runs.record_shard(layout, run_id, logical_date, stage, shard, counts, seconds)
    else:
        runs.record_stage(layout, run_id, logical_date, stage, counts, seconds)
    if stage == "publish":
        runs.finish_run(layout, run_id, logical_date, "success")
        # Every output is complete. The requests' check after it writes nothing and always runs
        # (its verdict on overdue requests is what the run reports), so a rerun with nothing new
        # is seconds even when the check failed the last one.
        unchanged.remember(settings, logical_date, shards, same_as or run_id)
    return counts


def record_failure(logical_date: date, run_id: str, stage: str, exc: BaseException) -> None:
    """Mark the run failed; only the exception type is kept (messages can quote data), unless
    the exception carries a `safe_message` written to hold no personal data."""
    if isinstance(exc, ConfigError):
        return  # a configuration error writes nothing, not even a run record
    layout = Layout(default_home())
    runs.keep_traceback(layout, run_id, exc)
    detail = getattr(exc, "safe_message", None) or type(exc).__name__
    try:
        runs.finish_run(layout, run_id, logical_date, "failed", f"{stage}: {detail}")
    except OSError as err:
        # A full disk, say: the run stays "running" until the next run marks it abandoned.
        log.error("run %s could not be recorded as failed (%s)", run_id, type(err).__name__)


def run_nightly(
    logical_date: date,
    run_id: str | None = None,
    shards: int = 1,
    force: bool = False,
    replace_newer: bool = False,
    on_stage: Callable[[str, str | None, dict, float], None] | None = None,
) -> dict:
    """All stages in order, per-shard stages once per shard; returns the run record.
    RunInProgress (exit 2) while another run holds the home. `on_stage(stage, shard label or
    None, counts, seconds)` is called as each stage (each shard) finishes: the CLI's progress."""
    settings, _ = configure()
    run_id = run_id or runs.new_run_id(logical_date)
    with runs.exclusive(settings.layout, run_id):
        check_stores(settings)
        runs.abandon_stale(settings.layout, run_id)
        # One process per stage (and per shard), as under Airflow: a stage that read identifiers
        # (ingest, purge, subject_access) leaves no stale buffer memory for the next stage's
        # DuckDB writes. Shards run one after the other: each DuckDB process already uses every
        # core, so shards side by side on one machine would only add up their memory (they
        # exist to spread over workers, see dags/kalido_nightly.py).
        for stage in STAGES:
            labels = plan(shards) if stage in PER_SHARD else [None]
            for label in labels:
                started = time.perf_counter()
                try:
                    counts = in_fresh_process(
                        run_stage,
                        stage,
                        logical_date,
                        run_id,
                        None,
                        label,
                        shards,
                        force,
                        replace_newer,
                    )
                except BaseException as exc:  # Ctrl-C too: the record says the run ended
                    record_failure(logical_date, run_id, stage, exc)
                    raise
                if on_stage:
                    on_stage(stage, label, counts, time.perf_counter() - started)
    return runs.read_run(settings.layout, run_id)


def run_purge(
    logical_date: date, run_id: str | None = None, key: str | None = None, compact: bool = False
) -> dict:
    """The purge alone (kalido purge, the kalido_retention DAG), recorded as a run of its own;
    it holds the home exclusively, under Airflow too (one task is the whole run). `compact`
    (kalido purge --compact): remove every pending erasure's bytes now (see purge.py)."""
    settings, policy = configure(key)
    run_id = run_id or runs.new_run_id(logical_date).replace("cli__", "purge__", 1)
    with runs.exclusive(settings.layout, run_id):
        check_stores(settings)
        runs.abandon_stale(settings.layout, run_id)
        runs.start_run(settings.layout, run_id, logical_date)
        started = time.perf_counter()
        try:
            counts = purge(settings, policy, logical_date, run_id, compact=compact)
        except BaseException as exc:
            record_failure(logical_date, run_id, "purge", exc)
            raise
        runs.record_stage(
            settings.layout, run_id, logical_date, "purge", counts, time.perf_counter() - started
        )
        return runs.finish_run(settings.layout, run_id, logical_date, "success")


def run_state_rebuild() -> int:
    """kalido rebuild-state, holding the home like a run (its id: rebuild__<time>); returns the
    partitions whose summaries were rebuilt."""
    settings, _ = configure()
    run_id = runs.new_run_id(date.today()).replace("cli__", "rebuild__", 1)
    with runs.exclusive(settings.layout, run_id):
        runs.abandon_stale(settings.layout, run_id)
        return staged.rebuild_summaries(settings.layout)


def run_rotation() -> dict:
    """kalido rotate-key, holding the home like a run (its id: rotate__<time>)."""
    settings, _ = configure()
    run_id = runs.new_run_id(date.today()).replace("cli__", "rotate__", 1)
    with runs.exclusive(settings.layout, run_id):
        check_stores(settings)
        runs.abandon_stale(settings.layout, run_id)
        return rotate_key(settings)
