"""Run records: one JSON file per run under runs/ (counts only, never personal data)."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path

from kalido.config import Layout


def new_run_id(logical_date: date) -> str:
    """A unique id for a CLI run; Airflow runs use Airflow's own run_id."""
    return f"cli__{logical_date.isoformat()}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"


def _path(layout: Layout, run_id: str) -> Path:
    return layout.runs / (re.sub(r"[^A-Za-z0-9_.=-]", "_", run_id) + ".json")


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


def record_stage(
    layout: Layout, run_id: str, logical_date: date, stage: str, counts: dict, seconds: float
) -> dict:
    """Add one stage's counts to the run record, creating the record on the first stage."""
    record = read_run(layout, run_id) or {
        "run_id": run_id,
        "logical_date": logical_date.isoformat(),
        "started_at": now_utc(),
        "finished_at": None,
        "status": "running",
        "stages": {},
    }
    record["stages"][stage] = {"seconds": round(seconds, 3), **counts}
    write_run(layout, record)
    return record


def finish_run(
    layout: Layout, run_id: str, logical_date: date, status: str, error: str = ""
) -> dict:
    record = read_run(layout, run_id) or {
        "run_id": run_id,
        "logical_date": logical_date.isoformat(),
        "started_at": now_utc(),
        "stages": {},
    }
    record.update(status=status, finished_at=now_utc())
    if error:
        record["error"] = error
    write_run(layout, record)
    return record


def all_runs(layout: Layout) -> list[dict]:
    if not layout.runs.is_dir():
        return []
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(layout.runs.glob("*.json"))]
    return sorted(runs, key=lambda r: (r.get("started_at") or "", r["run_id"]))
