"""Ingest: every format, every row accounted for, ingest-once, late files, bad files, cards."""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from kalido.config import load_settings
from kalido.pipelines.ingest import ingest
from kalido.policy import load_policy
from kalido.stores.identities import assign_pseudonyms
from tests.conftest import query, query_raw
from tests.landing import ORDER_COLUMNS, Landing

D = date(2026, 11, 24)
CARD = "4970 1012 3456 7893"  # Luhn-valid


def run_ingest(run_id="r1", day=D):
    return ingest(load_settings(), load_policy(), day, run_id)


def ledger(home):
    return query(
        home / "restricted/raw.duckdb",
        "select path, status, rows_read, rows_loaded, rows_quarantined, duplicates_dropped "
        "from ingest_ledger order by path",
    )


def events(landing: Landing, n: int, start: int = 0):
    return [
        landing.event(
            "ck1", None, f"P{i:03d}", datetime(2026, 11, 24, 10, i % 60), event_id=f"e{i}"
        )
        for i in range(start, start + n)
    ]


def test_every_format_is_read_and_every_row_accounted_for(home, landing):
    landing.jsonl("browsing", D, events(landing, 3), name="a.jsonl")
    landing.jsonl("browsing", D, events(landing, 3, 10), name="b.jsonl.gz", gz=True)
    landing.parquet("browsing", D, events(landing, 3, 20), name="c.parquet")
    order = Landing.order()
    landing.csv("orders", D, ORDER_COLUMNS, [order], name="o.csv", bom=True)
    landing.csv("orders", D, ORDER_COLUMNS, [order | {"order_id": "O2"}], name="p.csv.gz", gz=True)
    totals = run_ingest()
    assert totals["files_ingested"] == 5 and totals["files_failed"] == 0
    assert totals["rows_loaded"] == 11 and totals["rows_quarantined"] == 0
    for path, status, read, loaded, quarantined, duplicates in ledger(home):
        assert status == "ingested", path
        assert read == loaded + quarantined + duplicates


def test_bad_rows_are_quarantined_with_a_reason_and_cards_masked(home, landing):
    good = events(landing, 2)
    bad = [
        good[0],  # duplicate event id
        landing.event("ck1", None, "P1", datetime(2026, 11, 24), event_time="31/02/2026 25:61"),
        landing.event(None, None, "P1", datetime(2026, 11, 24)),
        landing.event(
            "ck1",
            None,
            None,
            datetime(2026, 11, 24),
            event_type="search",
            page_url=f"https://www.kalido.fr/search?q={CARD}",
        ),
    ]
    not_objects = ["[1, 2]", ' "a string"']
    landing.jsonl("browsing", D, good + bad, extra_lines=['{"event_id": "broken', *not_objects])
    totals = run_ingest()
    assert totals["rows_read"] == 9
    assert (totals["rows_loaded"], totals["rows_quarantined"], totals["duplicates_dropped"]) == (
        2,
        6,
        1,
    )
    reasons = query(home / "restricted/raw.duckdb", "select reason, payload from raw_quarantine")
    assert {r for r, _ in reasons} == {
        "unparseable timestamp in event_time",
        "missing required field cookie_id",
        "card number in row",
        "malformed JSON line",
        "JSON line is not an object",
    }
    raw_bytes = (home / "restricted/raw.duckdb").read_bytes()
    assert CARD.encode() not in raw_bytes and b"4970101234567893" not in raw_bytes
    assert any("[card number removed]" in (p or "") for _, p in reasons)


def test_a_file_is_ingested_once_and_a_late_file_is_picked_up(home, landing):
    landing.jsonl("browsing", D, events(landing, 2), name="a.jsonl")
    run_ingest("r1")
    again = run_ingest("r2")
    assert again["files_ingested"] == 0 and again["files_already_ingested"] == 1
    landing.jsonl("browsing", date(2026, 11, 20), events(landing, 2, 5), name="late.jsonl")
    late = run_ingest("r3")
    assert late["files_ingested"] == 1 and late["rows_loaded"] == 2
    copy = landing.path("browsing", D, "a-copy.jsonl")
    copy.write_bytes((home / f"landing/browsing/dt={D}/a.jsonl").read_bytes())
    assert run_ingest("r4")["files_duplicate_content"] == 1
    assert query_raw(home, "select count(*) from raw_browsing") == [(4,)]


def test_pseudonyms_are_assigned_from_the_files_not_yet_read_under_the_key(home, landing):
    at = datetime(2026, 11, 24, 10)
    landing.jsonl("browsing", D, [landing.event("ck1", "C1", "P1", at, event_id="e1")])
    run_ingest("r1")
    first = assign_pseudonyms(load_settings())
    assert sorted(first.column("raw_id").to_pylist()) == ["C1", "ck1"]
    landing.jsonl("browsing", D, [landing.event("ck2", "C1", "P2", at, event_id="e2")])
    run_ingest("r2")
    # The first file's rows become unreadable: the second assignment must not read them again.
    (first_file,) = [
        path
        for path in (home / "restricted/raw_browsing").glob("dt=*/*.parquet")
        if query_raw(
            home, "select count(*) from read_parquet($p) where event_id = 'e1'", {"p": str(path)}
        )
        == [(1,)]
    ]
    first_file.write_bytes(b"not parquet any more")
    second = assign_pseudonyms(load_settings())
    assert second.column("raw_id").to_pylist() == ["ck2"]
    unread = "select count(*) from ingest_ledger where identifiers_key_version is distinct from 1"
    assert query(home / "restricted/raw.duckdb", unread) == [(0,)]


def test_a_future_partition_waits_for_its_date(home, landing):
    landing.jsonl("browsing", date(2026, 11, 25), events(landing, 2))
    assert run_ingest()["files_seen"] == 0


def test_a_malformed_file_does_not_stop_the_others(home, landing):
    broken = landing.path("browsing", D, "broken.jsonl.gz")
    broken.write_bytes(b"this is not gzip")
    landing.csv("orders", D, ["no_such_column"], [{"no_such_column": "x"}], name="drift.csv")
    landing.jsonl("browsing", D, events(landing, 2), name="fine.jsonl")
    totals = run_ingest()
    assert totals["files_failed"] == 2 and totals["rows_loaded"] == 2
    rows = {
        path: (status, read, quarantined) for path, status, read, _, quarantined, _ in ledger(home)
    }
    assert rows[f"browsing/dt={D}/broken.jsonl.gz"][0] == "quarantined"
    # A file without the contract's required columns is quarantined whole, none of its rows read.
    assert rows[f"orders/dt={D}/drift.csv"] == ("quarantined", 0, 0)


def test_naive_timestamps_are_paris_time(home, landing):
    winter = landing.event(
        "ck1", None, "P1", datetime(2026, 1, 1), event_time="2026-01-15T10:00:00"
    )
    summer = landing.event(
        "ck1", None, "P1", datetime(2026, 1, 1), event_time="2026-07-15T10:00:00"
    )
    offset = landing.event(
        "ck1", None, "P1", datetime(2026, 1, 1), event_time="2026-07-15T10:00:00+00:00"
    )
    landing.jsonl("browsing", D, [winter, summer, offset])
    run_ingest()
    times = [r[0] for r in query_raw(home, "select event_time from raw_browsing order by _row")]
    assert times == [datetime(2026, 1, 15, 9), datetime(2026, 7, 15, 8), datetime(2026, 7, 15, 10)]


def test_a_home_with_the_former_browsing_table_moves_it_to_files(home, landing):
    landing.jsonl("browsing", D, events(landing, 3), name="a.jsonl")
    run_ingest("r1")
    files = sorted((home / "restricted/raw_browsing").glob("dt=*/*.parquet"))
    assert len(files) == 1
    # The store as an earlier version left it: the rows in a raw_browsing table, no files.
    raw = home / "restricted/raw.duckdb"
    with duckdb.connect(str(raw)) as con:
        con.execute(
            "create table raw_browsing as select * from read_parquet($f)", {"f": str(files[0])}
        )
        con.execute(
            "insert into raw_browsing select * replace ('C_OLD' as customer_id) from raw_browsing"
        )
    files[0].unlink()
    before = query(raw, "select count(*), count(customer_id) from raw_browsing")
    assert before == [(6, 3)]
    landing.jsonl("browsing", D, events(landing, 2, 10), name="b.jsonl")
    assert run_ingest("r2")["rows_loaded"] == 2
    tables = query(raw, "select table_name from duckdb_tables() where table_name = 'raw_browsing'")
    assert tables == []
    assert query_raw(home, "select count(*), count(customer_id) from raw_browsing") == [(8, 3)]
