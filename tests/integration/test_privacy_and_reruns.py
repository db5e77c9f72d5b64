"""Privacy as a correctness property; reruns identical; atomic publication."""

from __future__ import annotations

import os
from datetime import timedelta

import duckdb

from kalido.pipelines.nightly import run_nightly
from tests.conftest import copy_home, kalido, query, warehouse_tables
from tests.scenarios.gates import ADULT, D, pid

# What the scenario's landing zone holds that must never leave the restricted zone.
FORBIDDEN = [
    b"@example.fr",
    b"Camille",
    b"DurandC_OK",
    b"+33 6 12 34 56 78",
    b"rue des Lilas",
    b"C_OK",
    b"CROWD3",
    b"ck_C_OK",
    b"203.0.113.77",
    b"AppleWebKit",
    ADULT.encode(),
    b"2008-11-24",
]


def files_outside_restricted(home):
    allowed = (home / "landing", home / "restricted", home / "exports")
    for path in home.rglob("*"):
        if path.is_file() and not any(path.is_relative_to(a) for a in allowed):
            yield path


def test_no_direct_identifier_outside_the_restricted_zone(gate_night):
    # The gate scenario's night D, its logs kept at DEBUG (tests/conftest.py: gate_night).
    home = gate_night.home
    scanned = list(files_outside_restricted(home))
    assert any(p.name == "analytics.duckdb" for p in scanned)
    for path in scanned:
        content = path.read_bytes()
        for needle in FORBIDDEN:
            assert needle not in content, f"{needle!r} found in {path.relative_to(home)}"
    for needle in FORBIDDEN:
        assert needle.decode() not in gate_night.logs


def test_rerun_gives_an_identical_warehouse_and_dates_accumulate(
    gate_day_before, gate_both, tmp_path, monkeypatch
):
    # Nights D - 1 then D, run once for the session: this test goes on in a copy.
    day_before = warehouse_tables(gate_day_before.home / "warehouse/analytics.duckdb")
    home = copy_home(gate_both.home, tmp_path, monkeypatch)
    warehouse = home / "warehouse/analytics.duckdb"
    first = warehouse_tables(warehouse)
    rerun = run_nightly(D, force=True)
    assert warehouse_tables(warehouse) == first
    # The rerun read no raw browsing partition again: nothing changed in raw since the first run.
    staged = rerun["stages"]["pseudonymise"]
    assert staged["browsing_partitions_rebuilt"] == 0 and staged["browsing_partitions_reused"] > 0
    assert first["views_recent"] != day_before["views_recent"]
    # Unforced, a rerun with nothing new skips every stage but the requests' check, yet is listed
    # like any run.
    skipped = run_nightly(D)
    assert skipped["unchanged_since"] == rerun["run_id"]
    checked = skipped["stages"].pop("check_requests")
    assert all("skipped" in counts for counts in skipped["stages"].values())
    assert "skipped" not in checked and checked["overdue"] == 0
    assert set(skipped["stages"]) | {"check_requests"} == set(rerun["stages"])
    assert warehouse_tables(warehouse) == first
    runs = query(warehouse, "select run_id, status from pipeline_runs order by started_at")
    assert [r[1] for r in runs] == ["success"] * 4 and runs[-1][0] == skipped["run_id"]
    # Anything new for the date (here a landing file touched) makes the next run a full one.
    os.utime(next((home / "landing").rglob("*.jsonl*")))
    assert "unchanged_since" not in run_nightly(D)
    # A backfill of an older date keeps the newer warehouse (published_as_of says which) ...
    run_nightly(D - timedelta(days=1))
    assert warehouse_tables(warehouse) == first
    assert query(warehouse, "select logical_date from published_as_of") == [(D,)]
    # ... unless asked to replace it: then it gives that date's tables, minus what was erased
    # since: C_ERASED asked on D, and erasure is not undone by a rerun (popularity and audience
    # lose them too).
    run_nightly(D - timedelta(days=1), replace_newer=True)
    again = warehouse_tables(warehouse)
    erased = pid("C_ERASED")
    for table in ("views_recent", "interest_profiles", "products"):
        assert again[table] == [row for row in day_before[table] if erased not in row], table
    assert any(erased in row for row in day_before["views_recent"])
    assert (
        sum(r[4] for r in again["audience_daily"])
        == sum(r[4] for r in day_before["audience_daily"]) - 1
    )


def test_a_reader_keeps_the_old_warehouse_while_a_run_publishes(
    gate_day_before, tmp_path, monkeypatch
):
    home = copy_home(gate_day_before.home, tmp_path, monkeypatch)  # after night D - 1
    warehouse = home / "warehouse/analytics.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as reader:
        before = reader.execute("select count(*) from pipeline_runs").fetchone()
        run_nightly(D)
        assert reader.execute("select count(*) from pipeline_runs").fetchone() == before
    assert query(warehouse, "select count(*) from pipeline_runs") == [(before[0] + 1,)]
    assert not list((home / "warehouse").glob(".*tmp"))
    feeds = home / "exports/email_recommendations"
    assert sorted(p.name for p in feeds.iterdir()) == [
        "LATEST",
        f"dt={D - timedelta(days=1)}",
        f"dt={D}",
    ]


def test_missing_or_short_key_stops_before_anything_is_written(tmp_path):
    home = tmp_path / "fresh"
    for key in ("", "too-short"):
        result = kalido(
            "run",
            "--date",
            "2026-11-24",
            env={"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": key},
            check=False,
        )
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1
        assert "KALIDO_PSEUDONYM_KEY" in result.stderr
        assert not home.exists()
