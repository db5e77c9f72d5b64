"""Data-subject requests (access, erasure, objection, ...) spread over the window."""

from __future__ import annotations

import numpy as np

from kalido.contract import SOURCES as CONTRACT
from kalido.tools.generate.clock import Window, iso_z
from kalido.tools.generate.population import Population
from kalido.tools.generate.text import dumps
from kalido.tools.generate.traffic import REQUESTS_PER_USER, seconds_of_day

REQUEST_TYPES = CONTRACT["requests"].values("type")
REQUEST_SHARES = (0.3, 0.2, 0.2, 0.05, 0.1, 0.15)


def requests_by_day(
    rng: np.random.Generator, window: Window, pop: Population
) -> dict[int, list[str]]:
    """Data-subject requests over the window, as JSON lines grouped by day."""
    users = pop.n
    n = round(users * REQUESTS_PER_USER)
    kinds = rng.choice(len(REQUEST_TYPES), n, p=REQUEST_SHARES)
    if users >= 200:  # at least one of each type
        kinds = np.concatenate([np.arange(len(REQUEST_TYPES)), kinds[len(REQUEST_TYPES) :]])
        n = len(kinds)
    day = rng.integers(0, len(window.dates), n)
    starts = np.array(window.starts)
    at = starts[day] + seconds_of_day(rng, n, int((starts[1:] - starts[:-1]).min()))
    existing = np.searchsorted(pop.created, at)
    customer = (rng.random(n) * existing).astype(np.int64)
    objection_purpose = rng.choice(3, n, p=[0.4, 0.4, 0.2])
    by_day: dict[int, list[str]] = {}
    number = 0
    for i in np.argsort(at, kind="stable").tolist():
        if existing[i] == 0:
            continue
        number += 1
        kind = REQUEST_TYPES[kinds[i]]
        purpose = None
        if kind == "objection":
            purpose = ("personalisation", "email_marketing", None)[objection_purpose[i]]
        row = {
            "request_id": f"R{number:06d}",
            "customer_id": pop.ids[customer[i]],
            "type": kind,
            "purpose": purpose,
            "received_at": iso_z(int(at[i])),
        }
        by_day.setdefault(int(day[i]), []).append(dumps(row))
    return by_day
