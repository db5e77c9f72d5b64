"""Bad rows as data: each folder here is a landing zone (landing/) with one kind of bad row and
what ingest must make of it (expected.yaml): the run's totals and, per source, the reasons of
the quarantined rows in file order. More cases: tests/unit/test_bad_input.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalido.config import load_settings
from kalido.pipelines.ingest import ingest
from kalido.policy import load_policy
from tests.conftest import query
from tests.scenarios import expected, lay_landing

HERE = Path(__file__).resolve().parent
CASES = sorted(p for p in HERE.iterdir() if (p / "expected.yaml").is_file())


def reasons(home: Path, source: str) -> list[str]:
    rows = query(
        home / "restricted/raw.duckdb",
        "select reason from raw_quarantine where source = $s order by _row",
        {"s": source},
    )
    return [row[0] for row in rows]


def test_every_case_has_a_landing_zone():
    assert len(CASES) >= 3
    for case in CASES:
        assert list((case / "landing").rglob("*.*")), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_row_is_quarantined_with_its_reason_and_the_rest_loaded(case, home):
    expect = expected(case)
    lay_landing(case, home)
    totals = ingest(load_settings(), load_policy(), expect["date"], "r1")
    for name, value in expect["totals"].items():
        assert totals[name] == value, name
    for source, listed in expect["reasons"].items():
        assert reasons(home, source) == listed, source
