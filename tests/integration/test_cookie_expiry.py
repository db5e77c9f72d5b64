"""A cookie's 13 months end ahead, about once a week (policy cookie_expiry_ahead_days): every
cookie whose period ends within the horizon goes in one rewrite of the browsing files, never a
day after its period; the nights in between rewrite no file held before, and the events a
removed cookie still sends go as they land."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from kalido.config import Layout
from kalido.pipelines.nightly import run_stage
from tests.conftest import query
from tests.landing import Landing, catalogue

D = date(2026, 11, 24)
BANNER = {"subject_type": "cookie", "source": "cookie_banner"}
# Cookie -> its first ad_profiling grant, hence the last day of its 13 months.
FIRST_GRANT = {
    "ck_soon": "2025-10-27T10:00:00Z",  # ends 2026-11-27: within the horizon on D
    "ck_later": "2025-11-13T10:00:00Z",  # ends 2026-12-13: past D's horizon, within D+7's
    "ck_young": "2026-01-01T10:00:00Z",  # ends 2027-02-01
}
ENDS = {
    "ck_soon": date(2026, 11, 27),
    "ck_later": date(2026, 12, 13),
    "ck_young": date(2027, 2, 1),
}


def deliver(landing: Landing, day: date) -> None:
    """Each cookie within its 13 months views a product on the day before `day` (its file lands
    on `day`)."""
    seen = datetime.combine(day - timedelta(days=1), datetime.min.time()) + timedelta(hours=9)
    events = [landing.event(c, None, "P0001", seen) for c in FIRST_GRANT if ENDS[c] >= seen.date()]
    landing.jsonl("browsing", day, events)


def night(day: date) -> dict:
    run_id = f"cookies__{day}"
    run_stage("ingest", day, run_id)
    return run_stage("purge", day, run_id)


def cookies_in_raw_files(home: Path) -> set[str]:
    held = set()
    for path in (home / "restricted/raw_browsing").glob("dt=*/*.parquet"):
        content = path.read_bytes()
        held |= {cookie for cookie in FIRST_GRANT if cookie.encode() in content}
    return held


def report(stage: dict) -> dict:
    return json.loads(Path(stage["report"]).read_text(encoding="utf-8"))


@pytest.fixture
def zone(home, landing):
    landing.csv("products", D - timedelta(days=3), list(catalogue()[0]), catalogue())
    consents = []
    for cookie, at in FIRST_GRANT.items():
        consents.append(Landing.consent(cookie, "personalisation", at=at, **BANNER))
        consents.append(Landing.consent(cookie, "ad_profiling", at=at, **BANNER))
    landing.jsonl("consents", D - timedelta(days=3), consents)
    for day in (D - timedelta(days=2), D - timedelta(days=1)):
        deliver(landing, day)
    return home


def test_a_cookie_goes_ahead_of_its_13_months_in_one_weekly_rewrite_never_after(zone, landing):
    layout = Layout(zone)
    first = night(D - timedelta(days=1))
    # The first night: every cookie ending within 14 days goes, from every file that holds it.
    assert report(first)["cookies_removed_through"] == str(D - timedelta(days=1) + timedelta(14))
    assert cookies_in_raw_files(zone) == {"ck_later", "ck_young"}
    # Its pseudonym goes with it the same night; the purge's bookkeeping counts as no store.
    held_ids = query(zone / "restricted/raw.duckdb", "select raw_id from id_pseudonyms")
    assert ("ck_soon",) not in held_ids and ("ck_later",) in held_ids
    assert set(report(first)["stores"]) == {"raw_browsing", "raw_consents", "id_pseudonyms"}
    held_files = sorted(layout.raw_browsing.glob("dt=*/*.parquet"))
    stamps = {path: path.stat().st_mtime_ns for path in held_files}
    for offset in range(6):  # D .. D+5: the horizon holds; no file held before is rewritten
        day = D + timedelta(days=offset)
        deliver(landing, day)
        stage = night(day)
        assert stage["cookies_removed_through"] == str(D + timedelta(days=13))
        assert all(path.stat().st_mtime_ns == stamps[path] for path in held_files), day
        # ck_soon browses until its period ends: each event goes the night it lands.
        assert cookies_in_raw_files(zone) == {"ck_later", "ck_young"}, day
    # D+6: the horizon is within the lead (7 days): the next 14 days' cookies go, ck_later too.
    day = D + timedelta(days=6)
    deliver(landing, day)
    stage = night(day)
    assert stage["cookies_removed_through"] == str(day + timedelta(days=14))
    assert cookies_in_raw_files(zone) == {"ck_young"}
    assert report(stage)["stores"]["raw_browsing"]["rows_removed"] == 9  # one a night
    assert report(stage)["stores"]["raw_consents"]["rows_removed"] == 2
