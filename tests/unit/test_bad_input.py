"""Bad input, one scenario per class: a quarantine with a reason, nothing lost, nothing leaked.
(Cases that are only a landing zone and its quarantine are data: tests/scenarios/quarantine/.)

Each test lays a tiny landing zone, runs ingest (or the whole night where the outcome is only
visible downstream) and checks the rule that the table of docs/bad_input.md states.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from datetime import date, datetime, timedelta

import pytest

from kalido.config import load_settings
from kalido.pipelines.ingest import ingest
from kalido.pipelines.requests import export_name
from kalido.policy import load_policy
from tests.conftest import query, query_raw
from tests.landing import CUSTOMER_COLUMNS, ORDER_COLUMNS, Landing

D = date(2026, 11, 24)
AT = datetime(2026, 11, 24, 10, 0)


def run_ingest(run_id: str = "r1", day: date = D) -> dict:
    return ingest(load_settings(), load_policy(), day, run_id)


def ledger(home) -> dict[str, tuple]:
    rows = query(
        home / "restricted/raw.duckdb",
        "select path, status, rows_read, rows_loaded, rows_quarantined, duplicates_dropped, error,"
        " dropped_columns from ingest_ledger",
    )
    return {row[0].rsplit("/", 1)[-1]: row[1:] for row in rows}


def reasons(home, source: str) -> list[str]:
    return [
        row[0]
        for row in query(
            home / "restricted/raw.duckdb",
            "select reason from raw_quarantine where source = $s order by _row",
            {"s": source},
        )
    ]


# --- time ---------------------------------------------------------------------------------------


def test_a_named_time_zone_never_shifts_the_naive_timestamps_after_it(home, landing):
    landing.jsonl(
        "consents",
        D,
        [
            Landing.consent("C1", "personalisation", at="2026-11-24T01:00:00 America/Los_Angeles"),
            Landing.consent("C1", "personalisation", "withdrawn", at="2026-11-24T09:00:00"),
            Landing.consent("C2", "personalisation", at="2026-11-24T09:00:00+05:30"),
        ],
    )
    run_ingest()
    stored = query_raw(home, "select subject_id, recorded_at from raw_consents order by all")
    # Paris is UTC+1 in November: the naive withdrawal is 08:00 UTC, whatever came before it.
    assert stored == [("C1", datetime(2026, 11, 24, 8)), ("C2", datetime(2026, 11, 24, 3, 30))]
    assert reasons(home, "consents") == ["unparseable timestamp in recorded_at"]


def test_timestamps_outside_the_plausible_window_are_quarantined_never_loaded(home, landing):
    events = [
        landing.event("ck1", None, "P001", AT, event_time="2300-01-01T00:00:00Z"),
        landing.event("ck1", None, "P001", AT, event_time="0001-01-01T00:00:00Z"),
        landing.event("ck1", None, "P001", AT),
    ]
    landing.jsonl("browsing", D, events)
    landing.csv(
        "customers",
        D,
        CUSTOMER_COLUMNS,
        [
            Landing.customer("C1", birth_date="1500-01-01"),
            Landing.customer("C2", updated_at="2300-01-01T00:00:00Z"),
            Landing.customer("C3"),
        ],
    )
    totals = run_ingest()
    assert totals["rows_loaded"] == 2
    assert reasons(home, "browsing") == ["implausible timestamp in event_time"] * 2
    assert sorted(reasons(home, "customers")) == [
        "implausible birth_date",
        "implausible timestamp in updated_at",
    ]


# --- requests -----------------------------------------------------------------------------------


def test_a_reused_request_id_is_quarantined_and_the_first_request_kept(home, landing):
    erasure = Landing.request("R-1", "C_GONE", "erasure", "2026-11-23T08:00:00Z")
    landing.jsonl("requests", D - timedelta(days=1), [erasure])
    run_ingest("r1", D - timedelta(days=1))
    landing.jsonl(
        "requests",
        D,
        [
            Landing.request("R-1", "C_OTHER", "access"),  # the id again, another request
            erasure,  # the same request again: a duplicate, not a conflict
            Landing.request("R-2", "C_X", "access"),
            Landing.request("R-2", "C_X", "portability"),  # reused within one file
        ],
    )
    totals = run_ingest("r2")
    assert (totals["rows_loaded"], totals["duplicates_dropped"]) == (1, 1)
    kept = query_raw(home, "select request_id, customer_id, type from raw_requests order by 1")
    assert kept == [("R-1", "C_GONE", "erasure"), ("R-2", "C_X", "access")]
    assert reasons(home, "requests") == ["request_id already used by another request"] * 2


def test_access_export_names_are_injective_and_short():
    plain = export_name("ACC_1", "req_aaaa")
    slashed = export_name("ACC/1", "req_bbbb")
    assert plain == "ACC_1" and slashed != plain and "/" not in slashed
    long_id = "x" * 300 + "@example.com"
    assert len(export_name(long_id, "req_cccc")) < 64
    assert "@" not in export_name(long_id, "req_cccc")
    assert export_name("../../etc/passwd", "req_dddd").startswith("etc_passwd.")


# --- personal data where it must not be ---------------------------------------------------------


@pytest.mark.parametrize(
    "look_alike",
    ["\u0420001", "P0\u200b01", "P\uff10\uff10\uff11", "P00\x001", "P\u00a0001"],
    ids=["cyrillic", "zero-width", "full-width", "nul", "nbsp"],
)
def test_a_look_alike_product_id_is_quarantined(home, landing, look_alike):
    landing.jsonl(
        "browsing",
        D,
        [landing.event("ck1", None, look_alike, AT), landing.event("ck1", None, "P001", AT)],
    )
    assert run_ingest()["rows_loaded"] == 1
    assert reasons(home, "browsing") == ["product_id is not a plain identifier"]


def test_a_file_name_holding_an_email_is_withheld_from_logs_and_warehouse(home, landing, caplog):
    landing.jsonl(
        "browsing", D, [landing.event("ck1", None, "P001", AT)], name="bob@example.org.jsonl"
    )
    with caplog.at_level(logging.INFO):
        run_ingest()
    assert "bob@example.org" not in caplog.text and "(withheld)" in caplog.text
    shown = query(home / "restricted/raw.duckdb", "select shown_path from ingest_ledger")
    assert shown == [(f"browsing/dt={D}/(withheld)",)]


# --- files --------------------------------------------------------------------------------------


def test_a_truncated_gz_is_quarantined_whole_and_none_of_its_rows_loaded(home, landing):
    rows = [landing.event("ck1", None, f"P{i:03d}", AT) for i in range(2000)]
    whole = gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode())
    landing.path("browsing", D, "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    landing.jsonl("browsing", D, rows[:1], name="fine.jsonl")
    totals = run_ingest()
    assert totals["rows_loaded"] == 1 and totals["files_failed"] == 1
    status, read, loaded, *_, error, _ = ledger(home)["cut.jsonl.gz"]
    assert (status, read, loaded) == ("quarantined", 0, 0)
    assert error.startswith("compressed file is incomplete")


def test_file_names_with_glob_characters_are_read_literally(home, landing):
    for name, product in (("*.jsonl", "P001"), ("[a]b.jsonl", "P002"), ("?.jsonl", "P003")):
        landing.jsonl("browsing", D, [landing.event("ck1", None, product, AT)], name=name)
    landing.jsonl("browsing", D, [landing.event("ck1", None, "P004", AT)], name="ab.jsonl")
    landing.jsonl("browsing", D, [landing.event("ck1", None, "P005", AT)], name="x.jsonl")
    totals = run_ingest()
    assert totals["files_ingested"] == 5 and totals["rows_loaded"] == 5
    by_file = {name: row[2] for name, row in ledger(home).items()}
    assert by_file == {"*.jsonl": 1, "[a]b.jsonl": 1, "?.jsonl": 1, "ab.jsonl": 1, "x.jsonl": 1}


def test_a_symbolic_link_in_the_landing_zone_is_refused_never_followed(home, landing, tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_text(json.dumps(landing.event("ck_victim", "C_VICTIM", "P001", AT)) + "\n")
    os.symlink(outside, landing.path("browsing", D, "link.jsonl"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.jsonl").write_text(outside.read_text())
    os.symlink(elsewhere, home / "landing/browsing/dt=2026-11-23")
    landing.jsonl("browsing", D, [landing.event("ck1", None, "P002", AT)], name="fine.jsonl")
    totals = run_ingest()
    assert totals["files_refused"] == 2 and totals["rows_loaded"] == 1
    refused = {name: row[0] for name, row in ledger(home).items() if row[0] == "refused"}
    assert refused == {"link.jsonl": "refused", "dt=2026-11-23": "refused"}
    assert query_raw(home, "select count(*) from raw_browsing where cookie_id = 'ck_victim'") == [
        (0,)
    ]
    assert run_ingest("r2")["files_refused"] == 0  # recorded once


def test_columns_outside_the_contract_are_dropped_and_named_after_the_card_scan(home, landing):
    columns = [*ORDER_COLUMNS, "loyalty_tier", "note"]
    rows = [
        Landing.order() | {"loyalty_tier": "gold", "note": ""},
        Landing.order(order_id="O2") | {"loyalty_tier": "gold", "note": "paid 4970 1012 3456 7893"},
    ]
    landing.csv("orders", D, columns, rows, name="drift.csv")
    extra = landing.event("ck1", None, "P001", AT) | {"campaign": "noel"}
    landing.jsonl("browsing", D, [extra], name="drift.jsonl")
    landing.parquet("browsing", D, [landing.event("ck1", None, "P002", AT) | {"ab_test": "b"}])
    totals = run_ingest()
    assert totals["rows_loaded"] == 3 and totals["files_with_dropped_columns"] == 3
    files = ledger(home)
    assert files["drift.csv"][0] == "ingested" and files["drift.csv"][-1] == "loyalty_tier, note"
    assert files["drift.jsonl"][-1] == "campaign"
    assert reasons(home, "orders") == ["card number in row"]
    payload = query(home / "restricted/raw.duckdb", "select payload from raw_quarantine")[0][0]
    assert "4970" not in payload
    raw_columns = {r[0] for r in query(home / "restricted/raw.duckdb", "describe raw_orders")}
    assert "loyalty_tier" not in raw_columns


def test_a_file_missing_a_required_column_is_quarantined_whole(home, landing):
    columns = [c for c in ORDER_COLUMNS if c != "quantity"]
    landing.csv("orders", D, columns, [Landing.order()], name="no_quantity.csv")
    optional = [c for c in ORDER_COLUMNS if c != "channel"]
    landing.csv("orders", D, optional, [Landing.order(order_id="O2")], name="no_channel.csv")
    run_ingest()
    files = ledger(home)
    assert files["no_quantity.csv"][:2] == ("quarantined", 0)
    assert files["no_quantity.csv"][-2] == "missing required column quantity"
    assert files["no_channel.csv"][:3] == ("ingested", 1, 1)


def test_an_empty_jsonl_file_is_zero_rows_not_a_failure(home, landing):
    landing.path("consents", D, "empty.jsonl").write_bytes(b"")
    landing.path("consents", D, "blank.jsonl").write_bytes(b"\n\n")
    totals = run_ingest()
    assert totals["files_ingested"] == 2 and totals["files_failed"] == 0
    assert {row[:2] for row in ledger(home).values()} == {("ingested", 0)}


def test_a_csv_mixing_lf_and_crlf_line_endings_loads(home, landing):
    header = ",".join(ORDER_COLUMNS)
    lines = [",".join(Landing.order(order_id=f"O{i}").values()) for i in range(4)]
    text = f"{header}\r\n{lines[0]}\n{lines[1]}\r\n{lines[2]}\n{lines[3]}\r\n"
    landing.path("orders", D, "mixed.csv").write_bytes(text.encode())
    assert run_ingest()["rows_loaded"] == 4
    assert query_raw(home, "select count(distinct status) from raw_orders") == [(1,)]
