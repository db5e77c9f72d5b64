"""Unit tests: card detection, pseudonyms, policy validation, the logical-day window."""

from __future__ import annotations

import operator
import os
import sys
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from kalido.cards import CARD_MASK, luhn_valid, mask_cards
from kalido.config import ConfigError
from kalido.db import connect, run_sql
from kalido.pipelines.requests import RequestsNeedAttention
from kalido.policy import DEFAULT_POLICY_PATH, load_policy
from kalido.pseudonyms import pseudonym, token
from kalido.timewindow import day_end_utc
from kalido.tools.bench import LATE, _noting_late_requests, measured

KEY = b"k" * 32


@pytest.mark.parametrize(
    "text",
    ["4111 1111 1111 1111", "4111-1111-1111-1111", "q=4111111111111111&x", "5500 0000 0000 0004"],
)
def test_card_numbers_are_masked(text):
    masked = mask_cards(text)
    assert CARD_MASK in masked and "1111 1111" not in masked and "0000 0004" not in masked


@pytest.mark.parametrize(
    "text",
    ["4111 1111 1111 1112", "+33 6 12 34 56 78", "2026-11-24T10:00:00Z", "123456789012", None],
)
def test_other_numbers_are_left_alone(text):
    assert mask_cards(text) == text


def test_luhn():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_pseudonyms_are_keyed_normalised_and_domain_separated():
    p = pseudonym(KEY, "customer", "C0001")
    assert p == pseudonym(KEY, "customer", "  c0001 ")
    assert p != pseudonym(KEY, "cookie", "C0001")
    assert p != pseudonym(b"x" * 32, "customer", "C0001")
    assert "C0001" not in p and len(p) == 32
    # Minted tokens hold no digit, so no pseudonym can contain a card-number-like run.
    assert set(p) <= set("abcdefghijklmnop")


def test_tokens_spell_hex_without_digits():
    assert token("0123456789abcdef") == "ghijklmnopabcdef"


def test_the_logical_day_ends_at_local_midnight():
    assert day_end_utc(date(2026, 11, 24), "Europe/Paris") == datetime(2026, 11, 24, 23)
    assert day_end_utc(date(2026, 7, 1), "Europe/Paris") == datetime(2026, 7, 1, 22)


def test_a_connection_spills_only_where_it_is_told(tmp_path):
    # DuckDB creates its spill directory on the first spill: an in-memory connection that fell
    # back to a default home failed only on large inputs, and then outside the data's zone.
    with pytest.raises(ValueError, match="spill_dir"):
        connect()
    spill = tmp_path / "zone" / "restricted" / "spill"
    with connect(spill_dir=spill) as con:
        assert con.execute("select current_setting('temp_directory')").fetchone() == (str(spill),)
    assert spill.parent.is_dir()
    with connect(tmp_path / "work" / "a.duckdb") as con:
        setting = con.execute("select current_setting('temp_directory')").fetchone()[0]
    assert setting == str(tmp_path / "work" / "a.duckdb.spill")


def test_the_shipped_policy_loads():
    policy = load_policy()
    assert policy.age_limit == 18 and policy.profiling.max_recent_views_per_user == 200
    assert policy.profiling.similarity_min_distinct_users == 5


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(age_limit=0),
        lambda p: p.update(business_timezone="Mars/Olympus"),
        lambda p: p["purposes"].pop("personalisation"),
        lambda p: p["purposes"]["email_marketing"].update(legal_basis="vibes"),
        lambda p: p["profiling"].update(recommendations_per_user="twenty"),
        lambda p: p["profiling"]["recommender"].update(diversity_max_share=1.5),
        lambda p: p.pop("retention"),
    ],
)
def test_a_broken_policy_is_a_one_line_config_error(tmp_path, mutate):
    raw = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    mutate(raw)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as error:
        load_policy(path)
    assert "\n" not in str(error.value)


def test_every_restricted_raw_table_has_a_retention_rule():
    from kalido.contract import SOURCES

    rules = load_policy().retention
    stores = {spec.raw_table for spec in SOURCES.values()} | {"raw_quarantine", "id_pseudonyms"}
    assert stores <= set(rules), sorted(stores - set(rules))


@pytest.mark.parametrize("timezone", ["Europe/Paris", "Asia/Kathmandu", "UTC"])
def test_audience_counts_each_event_in_its_local_day_across_midnights_and_clock_changes(
    tmp_path, timezone
):
    # Events a minute either side of local midnights and of both 2026 clock changes in Paris.
    instants = [
        datetime(2026, 3, 28, 22, 59, 30),
        datetime(2026, 3, 28, 23, 0, 30),
        datetime(2026, 3, 29, 0, 59, 59),
        datetime(2026, 3, 29, 1, 0, 0),
        datetime(2026, 3, 29, 21, 59, 59),
        datetime(2026, 3, 29, 22, 0, 1),
        datetime(2026, 10, 24, 21, 59, 59),
        datetime(2026, 10, 24, 22, 0, 0),
        datetime(2026, 10, 25, 0, 59, 0),
        datetime(2026, 10, 25, 1, 0, 1),
        datetime(2026, 10, 25, 22, 59, 59),
        datetime(2026, 10, 25, 23, 0, 0),
        datetime(2026, 10, 26, 18, 14, 59),
        datetime(2026, 10, 26, 18, 15, 0),
    ]
    # A session belongs to one cookie, as its pseudonym is derived from the cookie's.
    rows = [
        (at, ("page_view", "product_view")[i % 2], f"c{i % 4}:s{i // 8}", f"c{i % 4}")
        for i, at in enumerate(instants)
    ]
    # A second event of a visit, the same local day in every zone: still one visit.
    rows.append((datetime(2026, 10, 26, 18, 10, 0), "page_view", *rows[12][2:]))
    zone = ZoneInfo(timezone)
    days: dict = {}
    first: dict = {}
    for at, kind, session, cookie in rows:
        day = at.replace(tzinfo=UTC).astimezone(zone).date()
        counts = days.setdefault(day, {"kinds": [], "sessions": set(), "cookies": set()})
        counts["kinds"].append(kind)
        counts["sessions"].add(session)
        counts["cookies"].add(cookie)
        first[cookie] = min(first.get(cookie, day), day)
    expected = [
        (
            day,
            c["kinds"].count("page_view"),
            c["kinds"].count("product_view"),
            len(c["sessions"]),
            len(c["cookies"]),
            sum(first[cookie] < day for cookie in c["cookies"]),
        )
        for day, c in sorted(days.items())
    ]
    with connect(tmp_path / "work.duckdb", timezone=timezone) as con:
        con.execute(
            "create table stg_browsing (event_time timestamp, event_type varchar,"
            " session_pid varchar, cookie_pid varchar)"
        )
        con.executemany("insert into stg_browsing values (?, ?, ?, ?)", rows)
        # The sessions summary of these events, as a partition's is written (staged.py).
        con.execute("alter table stg_browsing add column customer_pid varchar")
        run_sql(con, "pseudonymise/summary_macros")
        con.execute(
            "create table stg_browsing_sessions as from browsing_sessions_of('stg_browsing')"
        )
        run_sql(con, "similarity/audience_daily", {"timezone": timezone})
        assert con.execute("select * from feat_audience_daily").fetchall() == expected


def test_a_bench_step_that_dies_fails_the_bench_instead_of_hanging_it():
    assert measured(operator.add, 1, 2)[0] == 3
    with pytest.raises(RuntimeError, match="exit code 3"):
        measured(sys.exit, 3)


def test_the_bench_notes_requests_that_need_attention_and_goes_on():
    def late():
        raise RequestsNeedAttention("2 overdue, 11 answered late, 0 failed: R000001, R000002")

    assert _noting_late_requests(late) == {LATE: "2 overdue, 11 answered late, 0 failed"}
    assert _noting_late_requests(dict.fromkeys, ["rows_read"], 5) == {"rows_read": 5}
    with pytest.raises(ZeroDivisionError):  # any other failure still fails the bench
        _noting_late_requests(operator.truediv, 1, 0)


def test_a_rerun_is_skipped_only_while_every_folder_of_code_the_night_reads_is_unchanged():
    from kalido import db, quality
    from kalido.stores import unchanged

    read_by_the_night = {
        db.SQL_DIR,
        db.TABLES_DIR,
        quality.EXPECTATIONS_DIR,
        db.SQL_DIR.parent / "kalido",
    }
    assert read_by_the_night <= {path.resolve() for path in unchanged.CODE}


@pytest.mark.xdist_group("grouping_probe")
def test_tests_that_share_a_night_are_sent_to_one_worker(request):
    # make test builds each shared night once, on the worker its group of tests is sent to
    # (tests/conftest.py); a pytest-xdist that stopped grouping would build them on every worker.
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("runs under pytest-xdist (make test)")
    assert request.node.nodeid.endswith("@grouping_probe")
