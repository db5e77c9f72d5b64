"""One scenario per gate rule, run through the whole nightly pipeline on a hand-made zone: the
zone is landing/, who may be profiled and who is mailed is expected.yaml."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

from kalido.pipelines.nightly import run_nightly
from tests.conftest import copy_home, query
from tests.landing import Landing
from tests.scenarios.gates import (
    CROWD,
    EXPECTED,
    MAILED,
    NOT_PROFILED,
    PROFILED,
    D,
    pid,
    profiled_pids,
)


def test_only_eligible_customers_are_profiled_and_mailed(gate_night):
    record, home = gate_night.record, gate_night.home
    assert record["status"] == "success"
    warehouse = home / "warehouse/analytics.duckdb"
    expected = {pid(c) for c in PROFILED | set(CROWD)}
    assert profiled_pids(home) == expected
    for table in ("views_recent", "interest_profiles"):
        pids = {r[0] for r in query(warehouse, f"select distinct user_pid from {table}")}
        assert pids <= expected
        assert not pids & {pid(c) for c in NOT_PROFILED}
    feed = home / f"exports/email_recommendations/dt={D}"
    with open(feed / "recommendations.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["customer_id"] for r in rows} == MAILED
    manifest = json.loads((feed / "manifest.json").read_text())
    assert manifest["rows"] == len(rows) and manifest["recipients"] == len(MAILED)
    latest = home / "exports/email_recommendations/LATEST"
    assert latest.read_text().strip() == D.isoformat()


def test_a_customer_turning_18_enters_on_their_birthday(gate_day_before, gate_both):
    # The same home, seen after the night before the birthday and after the birthday's night.
    assert pid(EXPECTED["turns_18"]) not in profiled_pids(gate_day_before.home)
    assert pid(EXPECTED["turns_18"]) in profiled_pids(gate_both.home)


def test_withdrawal_removes_the_customer_on_the_next_run(gate_night, tmp_path, monkeypatch):
    assert pid("C_OK") in profiled_pids(gate_night.home)
    home = copy_home(gate_night.home, tmp_path, monkeypatch)
    Landing(home).jsonl(
        "consents",
        D + timedelta(days=1),
        [Landing.consent("C_OK", "personalisation", "withdrawn", "2026-11-25T07:00:00Z")],
    )
    run_nightly(D + timedelta(days=1))
    warehouse = home / "warehouse/analytics.duckdb"
    for table in ("views_recent", "interest_profiles", "recommendations"):
        assert not query(
            warehouse, f"select 1 from {table} where user_pid = $p", {"p": pid("C_OK")}
        )
