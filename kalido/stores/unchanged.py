"""A rerun with nothing new: the same logical date, shard count, code, policy, quality suites and
key, and every store exactly as the last successful run of that date left it. Such a run would
publish what is already published, so its stages are skipped (`kalido run --force`, or the DAG
param `force`, runs them anyway), all but the last: the requests' check, which reads the request
log only and fails the run again while a request is overdue.

Stores are compared by each file's path, size and modification time (never its content: a
retail night's landing zone is gigabytes), so any write in between, by a run, a purge, a key
rotation or a hand, makes the next run a full one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

from kalido.config import PROJECT_ROOT, Settings

# What a run reads and writes; run records, quality results, purge reports and the tracebacks
# of failures (restricted/logs) are its journal.
STORES = ("landing", "restricted", "work", "warehouse", "exports")
JOURNAL = ("restricted/logs",)
CODE = tuple(PROJECT_ROOT / folder for folder in ("kalido", "sql", "tables", "expectations"))
RECORD = "last_success.fingerprint"  # under runs/, beside the run records it refers to


def fingerprint(settings: Settings, logical_date: date, shards: int) -> str:
    digest = hashlib.sha256()
    run = f"{logical_date}|{shards}|{settings.key_version}|{settings.key_fingerprint}"
    digest.update(run.encode())
    for root in CODE:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".sql", ".yaml", ".json"):
                digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
                digest.update(path.read_bytes())
    home = settings.layout.home
    for store in STORES:
        for path in sorted((home / store).rglob("*")):
            name = path.relative_to(home).as_posix()
            if path.is_file() and not name.startswith(JOURNAL):
                stat = path.stat()
                digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _record_path(settings: Settings) -> Path:
    return settings.layout.runs / RECORD


def unchanged_since(settings: Settings, logical_date: date, shards: int) -> str | None:
    """The run id of the last successful run when nothing changed since it, else None."""
    try:
        last = json.loads(_record_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if last.get("fingerprint") != fingerprint(settings, logical_date, shards):
        return None
    return last.get("run_id")


def remember(settings: Settings, logical_date: date, shards: int, run_id: str) -> None:
    """Called when a run has published: what it left behind."""
    path = _record_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{RECORD}.tmp")
    record = {
        "run_id": run_id,
        "logical_date": logical_date.isoformat(),
        "fingerprint": fingerprint(settings, logical_date, shards),
    }
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(path)
