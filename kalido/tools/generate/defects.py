"""Bad input the ingest must survive: how much of each kind goes where, and how it is made."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kalido.tools.generate.catalogue import SITE
from kalido.tools.generate.clock import iso_naive_local
from kalido.tools.generate.text import dumps

# The row-level defects; bom_files marks whole files instead.
ROW_DEFECTS = (
    "malformed_json",
    "missing_field",
    "bad_timestamp",
    "duplicate_event",
    "card_number",
    "naive_timestamp",
)
BAD_KINDS = (*ROW_DEFECTS, "bom_files")
# The row-level defects each source receives (browsing all of them); the source's share bad_rate
# is split between them.
DEFECTS_BY_SOURCE = {
    "browsing": ROW_DEFECTS,
    "consents": ("malformed_json", "missing_field", "bad_timestamp"),
    "orders": ("missing_field", "bad_timestamp", "naive_timestamp"),
    "customers": ("card_number",),
}
BAD_TIMESTAMPS = ("31/02/2026 25:61", "2026-02-30T25:61:00Z", "2026-13-45 99:99", "hier soir")
BOM_SHARE = 0.25  # of CSV files, when bad_rate > 0


def card_number(rng: np.random.Generator) -> str:
    """A Luhn-valid 16-digit Visa or Mastercard number, grouped by spaces or dashes."""
    prefix = [4] if rng.random() < 0.6 else [5, int(rng.integers(1, 6))]
    digits = prefix + [int(d) for d in rng.integers(0, 10, 15 - len(prefix))]
    total = 0
    for position, digit in enumerate(reversed(digits)):  # the check digit will sit at the right
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    separator = " " if rng.random() < 0.5 else "-"
    return separator.join(text[i : i + 4] for i in range(0, 16, 4))


class Defects:
    """Decides how many bad rows of each kind go into each file, and keeps the tally."""

    def __init__(self, rate: float, rng: np.random.Generator):
        self.rate = rate
        self.rng = rng
        self.counts = dict.fromkeys(BAD_KINDS, 0)
        self._owed: dict[tuple[str, str], float] = {}
        self._given: dict[tuple[str, str], int] = {}
        self._rows: dict[str, int] = {}

    def quota(self, source: str, n_rows: int) -> dict[str, int]:
        """Bad rows per kind for the next file of `source`, which has n_rows good rows."""
        kinds = DEFECTS_BY_SOURCE.get(source, ())
        if self.rate <= 0 or n_rows == 0:
            return dict.fromkeys(kinds, 0)
        seen = self._rows.get(source, 0) + n_rows
        self._rows[source] = seen
        quota = {}
        for kind in kinds:
            # Fractions carry over to the next file, so small daily files still get their share.
            owed = self._owed.get((source, kind), 0.5) + n_rows * self.rate / len(kinds)
            count = int(owed)
            if count == 0 and seen >= 1000 and not self._given.get((source, kind)):
                count = 1  # every kind shows up once a source has 1000 rows
            self._owed[(source, kind)] = owed - count
            quota[kind] = count
        return quota

    def record(self, source: str, kind: str, count: int) -> None:
        """Count bad rows actually written."""
        self.counts[kind] += count
        self._given[(source, kind)] = self._given.get((source, kind), 0) + count

    def wants_bom(self, first_customers_file: bool) -> bool:
        """Whether a CSV file starts with a BOM: the first customers file, a quarter of others."""
        if self.rate <= 0:
            return False
        return first_customers_file or self.rng.random() < BOM_SHARE

    def positions(
        self, n: int, quota: dict[str, int], card_pool: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Distinct sorted row positions per kind; card numbers go only to `card_pool` rows."""
        rng = self.rng
        taken = np.zeros(n, bool)
        chosen = {}
        if quota.get("card_number"):
            pool = np.arange(n) if card_pool is None else card_pool
            wanted = min(quota["card_number"], len(pool))
            chosen["card_number"] = rng.choice(pool, wanted, replace=False)
            taken[chosen["card_number"]] = True
        others = [k for k in quota if k != "card_number"]
        free = np.flatnonzero(~taken)
        wanted = min(sum(quota[k] for k in others), len(free))
        picked = rng.choice(free, wanted, replace=False) if wanted else np.zeros(0, np.int64)
        start = 0
        for kind in others:
            chosen[kind] = picked[start : start + quota[kind]]
            start += quota[kind]
        return {kind: np.sort(rows) for kind, rows in chosen.items() if len(rows)}


@dataclass
class JsonDefects:
    """Where the defects go in one JSON Lines file, and how to make them."""

    positions: dict[str, np.ndarray]
    time_field: str
    required_field: str
    carried: list[str]  # good lines of an earlier day's file, sent again in this one


def _broken_line(kind: str, line: str, spec: JsonDefects, rng: np.random.Generator) -> str:
    """One line turned into the given kind of bad input."""
    if kind == "malformed_json":  # a truncated object, as left by an interrupted writer
        cut = int(rng.integers(len(line) // 4, len(line) * 3 // 4))
        return line[:cut] + "\n"
    row = json.loads(line)
    if kind == "missing_field":
        del row[spec.required_field]
    elif kind == "bad_timestamp":
        row[spec.time_field] = str(rng.choice(BAD_TIMESTAMPS))
    elif kind == "naive_timestamp":
        moment = datetime.fromisoformat(row[spec.time_field].replace("Z", "+00:00"))
        row[spec.time_field] = iso_naive_local(int(moment.timestamp()))
    elif kind == "card_number":  # typed into the search box
        card = card_number(rng)
        query = card.replace(" ", "") if " " in card else card
        row["page_url"] = f"{SITE}/search?q={query}"
    return dumps(row)


def damage_chunk(
    lines: pa.Array, base: int, spec: JsonDefects, rng: np.random.Generator, first_chunk: bool
) -> pa.Array:
    """Apply the planned defects to the rows [base, base + len(lines)) of a file."""
    n = len(lines)
    replaced: dict[int, str] = {}
    for kind, rows in spec.positions.items():
        if kind == "duplicate_event":
            continue
        for row in rows[(rows >= base) & (rows < base + n)] - base:
            replaced[int(row)] = _broken_line(kind, lines[int(row)].as_py(), spec, rng)
    if replaced:
        mask = np.zeros(n, bool)
        order = sorted(replaced)
        mask[order] = True
        lines = pc.replace_with_mask(
            lines, pa.array(mask), pa.array([replaced[r] for r in order], pa.string())
        )
    duplicates = spec.positions.get("duplicate_event", np.zeros(0, np.int64))
    duplicates = duplicates[(duplicates >= base) & (duplicates < base + n)] - base
    carried = spec.carried if first_chunk else []
    if not len(duplicates) and not carried:
        return lines
    # A repeated line lands a little after its original, as when a collector retries a batch;
    # lines carried from an earlier day land anywhere.
    after = np.minimum(duplicates + 1 + rng.integers(0, 200, len(duplicates)), n)
    where = np.concatenate([after, rng.integers(0, n + 1, len(carried))])
    extra = pa.concat_arrays([lines.take(pa.array(duplicates)), pa.array(carried, pa.string())])
    order = np.insert(np.arange(n), where, np.arange(n, n + len(extra)))
    return pa.concat_arrays([lines, extra]).take(pa.array(order))


def good_sample(
    clean: pa.Array, base: int, spec: JsonDefects, rng: np.random.Generator
) -> list[str]:
    """Up to 16 undamaged lines of a chunk, to be sent again in a later day's file."""
    damaged = set(np.concatenate([np.zeros(0, np.int64), *spec.positions.values()]).tolist())
    picks = rng.choice(len(clean), min(16, len(clean)), replace=False)
    return [clean[int(i)].as_py() for i in np.sort(picks) if base + int(i) not in damaged]
