"""One scenario per gate rule, run through the whole nightly pipeline on a hand-made zone."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta

import pytest

from kalido.pipelines.nightly import run_nightly
from kalido.pseudonyms import pseudonym
from tests.conftest import KEY, query
from tests.landing import CUSTOMER_COLUMNS, Landing, catalogue

D = date(2026, 11, 24)
ADULT = "1980-05-05"
CROWD = [f"CROWD{i}" for i in range(8)]
PROFILED = {"C_OK", "C_TURNS18", "C_UNKNOWN_AGE", "C_OBJ_EMAIL", "C_NO_EMAIL", "C_INACTIVE"}
NOT_PROFILED = {"C_WITHDRAWN", "C_MINOR", "C_ERASED", "C_RESTRICTED", "C_CLOSED", "C_OBJ_ALL"}
MAILED = {"C_OK", "C_TURNS18", "C_UNKNOWN_AGE", *CROWD}


def pid(customer_id: str) -> str:
    return pseudonym(KEY.encode(), "customer", customer_id)


def build_scenario(landing: Landing) -> None:
    day0 = D - timedelta(days=2)
    birth = {
        "C_MINOR": "2010-01-01",
        "C_TURNS18": "2008-11-24",  # 18 exactly on the logical date
        "C_UNKNOWN_AGE": "",
    }
    ids = sorted(PROFILED | NOT_PROFILED) + CROWD
    customers = []
    for cid in ids:
        extra = {"account_status": "closed"} if cid == "C_CLOSED" else {}
        if cid == "C_INACTIVE":
            extra["last_login_at"] = "2022-01-01T00:00:00Z"
        customers.append(Landing.customer(cid, birth.get(cid, ADULT), **extra))
    landing.csv("customers", day0, CUSTOMER_COLUMNS, customers)
    landing.csv("products", day0, list(catalogue()[0]), catalogue())
    consents = []
    for cid in ids:
        consents.append(Landing.consent(cid, "personalisation"))
        if cid not in {"C_NO_EMAIL"}:
            consents.append(Landing.consent(cid, "email_marketing"))
    consents.append(
        Landing.consent(
            "C_WITHDRAWN",
            "personalisation",
            "withdrawn",
            "2026-11-23T10:00:00Z",
            source="preference_centre",
        )
    )
    landing.jsonl("consents", day0, consents)
    landing.jsonl(
        "requests",
        D,
        [
            {
                "request_id": "R1",
                "customer_id": "C_ERASED",
                "type": "erasure",
                "purpose": None,
                "received_at": "2026-11-24T08:00:00Z",
            },
            {
                "request_id": "R2",
                "customer_id": "C_RESTRICTED",
                "type": "restriction",
                "purpose": None,
                "received_at": "2026-11-20T08:00:00Z",
            },
            {
                "request_id": "R3",
                "customer_id": "C_OBJ_EMAIL",
                "type": "objection",
                "purpose": "email_marketing",
                "received_at": "2026-11-20T08:00:00Z",
            },
            {
                "request_id": "R4",
                "customer_id": "C_OBJ_ALL",
                "type": "objection",
                "purpose": None,
                "received_at": "2026-11-20T08:00:00Z",
            },
        ],
    )
    events = []
    base = datetime(2026, 11, 23, 9, 0)
    for n, cid in enumerate(ids):
        if cid == "C_INACTIVE":
            continue
        for k, product in enumerate(["P000", "P001", "P002", f"P{10 + n:03d}"]):
            events.append(landing.event(f"ck_{cid}", cid, product, base + timedelta(minutes=k)))
    landing.jsonl("browsing", D - timedelta(days=1), events)


@pytest.fixture
def scenario(home, landing):
    build_scenario(landing)
    return home


def profiled_pids(home) -> set[str]:
    rows = query(
        home / "warehouse/analytics.duckdb", "select distinct user_pid from recommendations"
    )
    return {r[0] for r in rows}


def test_only_eligible_customers_are_profiled_and_mailed(scenario):
    record = run_nightly(D)
    assert record["status"] == "success"
    warehouse = scenario / "warehouse/analytics.duckdb"
    expected = {pid(c) for c in PROFILED | set(CROWD)}
    assert profiled_pids(scenario) == expected
    for table in ("views_recent", "interest_profiles"):
        pids = {r[0] for r in query(warehouse, f"select distinct user_pid from {table}")}
        assert pids <= expected
        assert not pids & {pid(c) for c in NOT_PROFILED}
    feed = scenario / f"exports/email_recommendations/dt={D}"
    with open(feed / "recommendations.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["customer_id"] for r in rows} == MAILED
    manifest = json.loads((feed / "manifest.json").read_text())
    assert manifest["rows"] == len(rows) and manifest["recipients"] == len(MAILED)
    latest = scenario / "exports/email_recommendations/LATEST"
    assert latest.read_text().strip() == D.isoformat()


def test_a_customer_turning_18_enters_on_their_birthday(scenario):
    run_nightly(D - timedelta(days=1))
    assert pid("C_TURNS18") not in profiled_pids(scenario)
    run_nightly(D)
    assert pid("C_TURNS18") in profiled_pids(scenario)


def test_withdrawal_removes_the_customer_on_the_next_run(scenario, landing):
    run_nightly(D)
    assert pid("C_OK") in profiled_pids(scenario)
    landing.jsonl(
        "consents",
        D + timedelta(days=1),
        [Landing.consent("C_OK", "personalisation", "withdrawn", "2026-11-25T07:00:00Z")],
    )
    run_nightly(D + timedelta(days=1))
    warehouse = scenario / "warehouse/analytics.duckdb"
    for table in ("views_recent", "interest_profiles", "recommendations"):
        assert not query(
            warehouse, f"select 1 from {table} where user_pid = $p", {"p": pid("C_OK")}
        )
