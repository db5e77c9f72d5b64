"""Run records: one JSON file per run under runs/ (counts only, never personal data), and the
run lock: one run at a time on a KALIDO_HOME."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import traceback
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from kalido.config import Layout, RunInProgress
from kalido.db import write_text_whole

log = logging.getLogger(__name__)

LOCK_FILE = "run.lock"  # under runs/: {"run_id", "pid"} of the run holding KALIDO_HOME


def new_run_id(logical_date: date) -> str:
    """A unique id for a CLI run; Airflow runs use Airflow's own run_id."""
    return f"cli__{logical_date.isoformat()}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"


def file_stem(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]", "_", run_id)


def keep_traceback(layout: Layout, stem: str, exc: BaseException) -> Path | None:
    """The full traceback in restricted/logs/<stem>.traceback.txt: it can quote data, so it
    goes to the restricted zone only. None when it cannot be written (a full disk): recording
    the failure matters more, and nothing is left behind."""
    trace_dir = layout.restricted / "logs"
    path = trace_dir / f"{file_stem(stem)}.traceback.txt"
    try:
        trace_dir.mkdir(parents=True, exist_ok=True)
        write_text_whole(path, "".join(traceback.format_exception(exc)))
    except OSError as err:
        log.warning("the traceback could not be kept (%s)", type(err).__name__)
        return None
    return path


def _path(layout: Layout, run_id: str) -> Path:
    return layout.runs / f"{file_stem(run_id)}.json"


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_run(layout: Layout, run_id: str) -> dict:
    path = _path(layout, run_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_run(layout: Layout, record: dict) -> None:
    path = _path(layout, record["run_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_whole(path, json.dumps(record, indent=2, sort_keys=True, default=str))


def _new_record(run_id: str, logical_date: date) -> dict:
    return {
        "run_id": run_id,
        "logical_date": logical_date.isoformat(),
        "started_at": now_utc(),
        "finished_at": None,
        "status": "running",
        "stages": {},
    }


def start_run(layout: Layout, run_id: str, logical_date: date) -> None:
    """Create the run record when its first stage starts (later stages find it there)."""
    if not read_run(layout, run_id):
        write_run(layout, _new_record(run_id, logical_date))


def mark_unchanged(layout: Layout, run_id: str, previous_run_id: str) -> None:
    """Mark the run as one with nothing to do: its stages are skipped (see unchanged.py)."""
    with _locked(layout):
        record = read_run(layout, run_id)
        record["unchanged_since"] = previous_run_id
        write_run(layout, record)


def record_stage(
    layout: Layout, run_id: str, logical_date: date, stage: str, counts: dict, seconds: float
) -> dict:
    """Add one stage's counts to the run record."""
    with _locked(layout):
        record = read_run(layout, run_id) or _new_record(run_id, logical_date)
        record["stages"][stage] = {"seconds": round(seconds, 3), **counts}
        write_run(layout, record)
    return record


def finish_run(
    layout: Layout, run_id: str, logical_date: date, status: str, error: str = ""
) -> dict:
    with _locked(layout):
        record = read_run(layout, run_id) or _new_record(run_id, logical_date)
        record.update(status=status, finished_at=now_utc())
        if error:
            record["error"] = error
        write_run(layout, record)
    return record


@contextmanager
def _locked(layout: Layout):
    """Shard tasks of one stage may record at once (parallel workers): one writer at a time."""
    layout.runs.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.runs, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def record_shard(
    layout: Layout,
    run_id: str,
    logical_date: date,
    stage: str,
    shard,
    counts: dict,
    seconds: float,
) -> dict:
    """Add one shard's counts to the run record: the stage's counts are the sums over the shards
    recorded so far (every count is additive: shards partition the users); with several shards
    each one's counts are kept under `shards`."""
    if shard.count == 1:
        return record_stage(layout, run_id, logical_date, stage, counts, seconds)
    with _locked(layout):
        record = read_run(layout, run_id) or _new_record(run_id, logical_date)
        entry = record["stages"].get(stage, {})
        per_shard = entry.get("shards", {})
        per_shard[shard.label] = {"seconds": round(seconds, 3), **counts}
        total: dict = {}
        for part in per_shard.values():
            for name, value in part.items():
                if isinstance(value, int | float):
                    total[name] = round(total.get(name, 0) + value, 3)
        record["stages"][stage] = {**total, "shards": per_shard}
        write_run(layout, record)
    return record


def all_runs(layout: Layout) -> list[dict]:
    if not layout.runs.is_dir():
        return []
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(layout.runs.glob("*.json"))]
    return sorted(runs, key=lambda r: (r.get("started_at") or "", r["run_id"]))


def record_published(layout: Layout, run_id: str, output: str, feed_run_id: str | None = None):
    """Note that `output` (email_feed, warehouse) of this run is out, in publication order; a
    crash between the two shows here. `feed_run_id`: the run whose email feed is the published
    one (this run, or the earlier run a skipped run found nothing new since)."""
    with _locked(layout):
        record = read_run(layout, run_id)
        record.setdefault("published", []).append({"output": output, "at": now_utc()})
        if feed_run_id:
            record["feed_run_id"] = feed_run_id
        write_run(layout, record)


# The run lock. A CLI run (kalido run, purge, rotate-key; the retention DAG's purge) holds it
# exclusively for its whole life. An Airflow run is many task processes, one after the other and
# shards side by side, so each task holds it shared while it works: tasks of one run never block
# each other, a CLI run is refused while any task works, and a task is refused while a CLI run
# holds the home (except the CLI run's own stage processes: same run id). flock locks belong to
# the open file, so the kernel releases them when their holder dies, even by kill -9.


def _lock_file(layout: Layout) -> int:
    layout.runs.mkdir(parents=True, exist_ok=True)
    return os.open(layout.runs / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)


def _holder(fd: int) -> dict:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _refuse(fd: int) -> RunInProgress:
    holder = _holder(fd)
    if not holder.get("run_id"):
        return RunInProgress("another run is in progress (it has not written its id yet)")
    return RunInProgress(
        f"another run is in progress: run {holder['run_id']} (pid {holder.get('pid')})"
    )


def _claim(fd: int, run_id: str) -> None:
    data = json.dumps({"run_id": run_id, "pid": os.getpid()}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


@contextmanager
def exclusive(layout: Layout, run_id: str):
    """Hold KALIDO_HOME for the whole of run_id; RunInProgress (exit 2) while another run holds
    it. Call it once the configuration is checked, before anything is read or written."""
    fd = _lock_file(layout)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refuse(fd) from None
        _claim(fd, run_id)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


@contextmanager
def shared(layout: Layout, run_id: str):
    """Hold KALIDO_HOME for one stage (task) of run_id, beside the other tasks of the same run;
    RunInProgress while a different run holds it exclusively."""
    fd = _lock_file(layout)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            if _holder(fd).get("run_id") != run_id:
                raise _refuse(fd) from None
            # A stage process of the CLI run that holds the home: it works under that lock.
        else:
            _claim(fd, run_id)
        yield
    finally:
        os.close(fd)


def abandon_stale(layout: Layout, run_id: str) -> list[str]:
    """Mark `abandoned` every other run still recorded as running: called by a run that holds the
    home exclusively, so their processes are gone (killed, or their machine died) without
    recording an outcome. Returns their ids."""
    if not layout.runs.is_dir():
        return []
    abandoned = []
    with _locked(layout):
        for path in sorted(layout.runs.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("status") != "running" or record.get("run_id") in (None, run_id):
                continue
            record.update(status="abandoned", finished_at=now_utc())
            record.setdefault("error", f"abandoned: found running by run {run_id}")
            write_run(layout, record)
            abandoned.append(record["run_id"])
    if abandoned:
        log.warning("runs %s were still marked running: now abandoned", ", ".join(abandoned))
    return abandoned
