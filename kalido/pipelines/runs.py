"""Run records: one JSON file per run under runs/ (counts only, never personal data)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import traceback
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from kalido.config import Layout


def new_run_id(logical_date: date) -> str:
    """A unique id for a CLI run; Airflow runs use Airflow's own run_id."""
    return f"cli__{logical_date.isoformat()}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"


def file_stem(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]", "_", run_id)


def keep_traceback(layout: Layout, stem: str, exc: BaseException) -> Path:
    """The full traceback in restricted/logs/<stem>.traceback.txt: it can quote data, so it
    goes to the restricted zone only."""
    trace_dir = layout.restricted / "logs"
    trace_dir.mkdir(parents=True, exist_ok=True)
    path = trace_dir / f"{file_stem(stem)}.traceback.txt"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


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
