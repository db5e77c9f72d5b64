"""Bad input through the whole night: hostile data-subject requests (the ingest-level cases are
tests/unit/test_bad_input.py and tests/scenarios/quarantine/)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from kalido.pipelines.nightly import run_nightly
from kalido.pipelines.requests import RequestsNeedAttention
from tests.conftest import query
from tests.landing import CUSTOMER_COLUMNS, PRODUCT_COLUMNS, Landing, catalogue

D = date(2026, 11, 24)
AT = datetime(2026, 11, 24, 10, 0)


# --- through the whole night --------------------------------------------------------------------


@pytest.mark.slow
def test_hostile_requests_never_drop_an_erasure_share_an_export_or_leak_an_id(home, landing):
    """A reused id, two ids that once shared a file, a 300-character id holding an email."""
    long_id = "R" * 300 + "-jeanne.martin@example.fr"
    people = ["C_GONE", "C_OTHER", "C_A", "C_B", "C_LONG", *[f"CROWD{i}" for i in range(8)]]
    day0 = D - timedelta(days=2)
    landing.csv(
        "customers", day0, CUSTOMER_COLUMNS, [Landing.customer(c, "1980-05-05") for c in people]
    )
    landing.csv("products", day0, PRODUCT_COLUMNS, catalogue())
    landing.jsonl(
        "consents",
        day0,
        [Landing.consent(c, p) for c in people for p in ("personalisation", "email_marketing")],
    )
    landing.jsonl(
        "browsing",
        day0,
        [
            landing.event(f"ck_{c}", c, f"P{k:03d}", AT - timedelta(days=2, minutes=k))
            for c in people
            for k in range(4)
        ],
    )
    landing.jsonl("requests", D - timedelta(days=1), [Landing.request("E-1", "C_GONE", "erasure")])
    landing.jsonl(
        "requests",
        D,
        [
            Landing.request("E-1", "C_OTHER", "access"),
            Landing.request("ACC/1", "C_A", "access"),
            Landing.request("ACC_1", "C_B", "access"),
            Landing.request(long_id, "C_LONG", "access"),
        ],
    )
    run_nightly(D - timedelta(days=1))
    with pytest.raises(RequestsNeedAttention, match="1 request ids reused"):
        run_nightly(D)
    feed = (home / f"exports/email_recommendations/dt={D}/recommendations.csv").read_text()
    assert "C_GONE" not in feed and "C_OTHER" in feed
    exports = {
        p.name: json.loads(p.read_text()) for p in (home / "exports/subject_access").iterdir()
    }
    owners = {doc["request_id"] for doc in exports.values()}
    assert owners == {"ACC/1", "ACC_1", long_id} and len(exports) == 3
    assert all(len(name) < 80 for name in exports)
    for path in (home / "warehouse").rglob("*"):
        assert b"jeanne.martin" not in path.read_bytes()
    for path in (home / "runs").rglob("*"):
        assert b"jeanne.martin" not in path.read_bytes() and b"ACC/1" not in path.read_bytes()
    published = query(home / "warehouse/analytics.duckdb", "select request_pid from request_log")
    assert all(pid.startswith("req_") for (pid,) in published)
