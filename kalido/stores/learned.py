"""The weights the similarity stage learned (features/holdout.py), kept through their period
(policy profiling.learn_every_days): the first night run in a period learns them, the others
(and a rerun of that night) use them, so a rerun gives the same tables.

The file holds a handful of grid choices and their evidence (aggregates over a sample of
people, like the self-check's figures): no person's data.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from kalido.config import Layout
from kalido.db import write_text_whole

# Periods are counted from a Monday, so that weekly ones start on Mondays.
EPOCH = date(2024, 1, 1)
KEPT_PERIODS = 4


def _path(layout: Layout):
    return layout.home / "work" / "learned_weights.json"


def period_start(logical_date: date, every_days: int) -> date:
    return logical_date - timedelta(days=(logical_date - EPOCH).days % every_days)


def _read(layout: Layout) -> dict:
    try:
        return json.loads(_path(layout).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # nothing usable: the night learns


def stored(layout: Layout, logical_date: date, every_days: int) -> dict | None:
    """{"values": {name: value}, "evidence": {...}} learned in the night's period, or None."""
    return _read(layout).get(period_start(logical_date, every_days).isoformat())


def store(layout: Layout, logical_date: date, every_days: int, values: dict, evidence) -> None:
    periods = _read(layout)
    periods[period_start(logical_date, every_days).isoformat()] = {
        "values": values,
        "evidence": evidence,
    }
    kept = dict(sorted(periods.items())[-KEPT_PERIODS:])
    _path(layout).parent.mkdir(parents=True, exist_ok=True)
    write_text_whole(_path(layout), json.dumps(kept, indent=1, sort_keys=True))
