"""The data scientist's warehouse: described column by column, a people table, one timestamp
type, what it was built for, a read-only file, backfills that keep a newer warehouse, and example
queries that run. One generated zone, published for two days, shared by the module."""

from __future__ import annotations

import json
import re
import shutil
import stat
from datetime import date
from pathlib import Path

import duckdb
import pytest

from kalido.config import Layout
from kalido.db import attach, connect
from kalido.policy import load_policy
from kalido.stores.email_feed import verify_feed
from kalido.stores.staged import open_staged_browsing
from kalido.timewindow import day_end_utc
from kalido.warehouse import load_descriptions
from tests.conftest import KEY, ROOT, kalido, query

DAYS = ("2026-11-23", "2026-11-24")
EXCLUSION_CAUSES = {
    "erased",
    "minor",
    "closed",
    "restricted",
    "objected",
    "withdrawn",
    "no_consent",
    "inactive",
}


def env(home: Path) -> dict:
    return {"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": KEY}


@pytest.fixture(scope="module")
def home(tmp_path_factory, generated_day_before) -> Path:
    """A small generated zone, run for its last two days (the second run has a previous one)."""
    # Its first night is shared with test_feed_contract (tests/integration/conftest.py).
    assert DAYS[0] == "2026-11-23"
    home = tmp_path_factory.mktemp("warehouse_docs") / "home"
    shutil.copytree(generated_day_before, home, symlinks=True)
    kalido("run", "--date", DAYS[1], env=env(home))
    return home


@pytest.fixture(scope="module")
def warehouse(home) -> Path:
    return home / "warehouse/analytics.duckdb"


def columns(db: Path) -> list[tuple[str, str, str | None, str]]:
    """(table, column, comment, data type) of every published column."""
    return query(
        db,
        "select table_name, column_name, comment, data_type from duckdb_columns()"
        " where database_name = current_database() and not internal"
        " order by table_name, column_index",
    )


def test_every_published_table_and_column_has_a_description(warehouse):
    tables = query(
        warehouse,
        "select table_name, comment from duckdb_tables()"
        " where database_name = current_database() and not internal",
    )
    assert len(tables) >= 14
    assert [name for name, comment in tables if not comment] == []
    assert [f"{t}.{c}" for t, c, comment, _ in columns(warehouse) if not comment] == []


def test_the_description_file_describes_only_what_is_published(warehouse):
    published: dict[str, set[str]] = {}
    for table, column, _, _ in columns(warehouse):
        published.setdefault(table, set()).add(column)
    for table, doc in load_descriptions().items():
        assert table in published, f"tables/{table}/columns.yaml describes a table never published"
        unknown = set(doc.columns) - published[table]
        assert not unknown, f"tables/{table}/columns.yaml describes columns it lacks: {unknown}"


def test_the_comments_are_the_description_file(warehouse):
    docs = load_descriptions()
    comments = {(t, c): comment for t, c, comment, _ in columns(warehouse)}
    assert comments[("people", "may_profile")] == " ".join(
        docs["people"].columns["may_profile"].split()
    )


def test_people_is_one_row_per_gated_person_with_one_exclusion_cause(home, warehouse):
    record = latest_run(home)
    gate = record["stages"]["gate"]
    rows = query(
        warehouse,
        "select user_pid, age_band, gender, may_profile, may_email, has_history,"
        " first_active_day, last_active_day, exclusion_cause from people",
    )
    assert len(rows) == gate["customers"] == len({r[0] for r in rows})
    assert sum(r[3] for r in rows) == gate["may_profile"] > 0
    assert sum(r[4] for r in rows) == gate["may_email"] > 0
    for pid, age_band, gender, may_profile, may_email, history, first, last, cause in rows:
        assert (cause is None) == may_email, pid
        assert cause is None or cause in EXCLUSION_CAUSES
        assert not may_email or may_profile
        if may_profile:
            assert age_band and age_band != "minor" and history is not None
            assert first is None or last is None or first <= last
        else:  # the decision is published, not the person's data
            assert (age_band, gender, history, first, last) == (None,) * 5
            assert cause != "inactive"
    causes = {r[8] for r in rows}
    assert {"minor", "withdrawn", "inactive"} <= causes, causes


def test_has_history_is_who_has_gated_browsing_of_any_type_in_the_history_window(home):
    """gate_browsing_users comes from the (cookie, customer) pairs' last events; it is who the
    gated events of every type, page views and searches included, belong to."""
    day = date.fromisoformat(DAYS[1])
    cutoff = day_end_utc(day, "Europe/Paris")
    years = load_policy().profiling.history_years
    with connect(spill_dir=home / "restricted/spill") as con:
        attach(con, home / "work/pipeline.duckdb", "work")
        open_staged_browsing(con, Layout(home), day, cutoff)
        from_events = con.execute(
            "with attributed as ("
            " select coalesce(b.customer_pid, l.customer_pid) as user_pid, b.*"
            " from stg_browsing as b left join work.gate_cookie_links as l using (cookie_pid))"
            " select a.user_pid, bool_or(a.event_type in ('product_view', 'add_to_cart'))"
            " from attributed as a"
            " semi join work.gate_customers as g on g.user_pid = a.user_pid and g.may_profile"
            " anti join work.gate_withdrawn_cookies as w on w.cookie_pid = a.cookie_pid"
            " where a.event_time >= $cutoff - to_years($years) group by a.user_pid",
            {"cutoff": cutoff, "years": years},
        ).fetchall()
        published = con.execute("select user_pid from work.gate_browsing_users").fetchall()
    assert sorted(published) == sorted((user,) for user, _ in from_events)
    # Some of them browsed pages only: none of their events is in gated_events.
    assert any(not read_by_features for _, read_by_features in from_events)


def test_may_profile_is_one_name_in_pipeline_runs_and_people(home, warehouse):
    runs = query(
        warehouse,
        "select eligible_users, may_profile_users, may_email_users from pipeline_runs"
        " order by started_at desc limit 1",
    )
    people = query(warehouse, "select count_if(may_profile), count_if(may_email) from people")
    assert runs == [(people[0][0], people[0][0], people[0][1])]


def test_every_published_timestamp_is_timestamptz_in_utc(warehouse):
    timestamps = {(t, c): kind for t, c, _, kind in columns(warehouse) if "TIMESTAMP" in kind}
    assert ("views_recent", "viewed_at") in timestamps
    assert ("request_log", "received_at") in timestamps
    assert set(timestamps.values()) == {"TIMESTAMP WITH TIME ZONE"}, timestamps


def test_published_as_of_names_the_date_and_the_run(home, warehouse):
    record = latest_run(home)
    assert query(warehouse, "select logical_date::varchar, run_id from published_as_of") == [
        (DAYS[-1], record["run_id"])
    ]
    assert query(warehouse, "select warehouse_published from pipeline_runs") == [(True,), (True,)]


def test_the_warehouse_is_read_only_with_no_log_beside_it(warehouse):
    assert stat.S_IMODE(warehouse.stat().st_mode) == 0o444
    assert sorted(p.name for p in warehouse.parent.iterdir()) == ["analytics.duckdb"]


def test_every_example_query_runs_against_the_published_warehouse(warehouse):
    text = (ROOT / "examples/queries.sql").read_text(encoding="utf-8")
    statements = [
        s.strip()
        for s in re.split(r";\s*$", text, flags=re.MULTILINE)
        if re.sub(r"--[^\n]*", "", s).strip()
    ]
    assert len(statements) >= 6
    answered = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for statement in statements:
            result = con.execute(statement)
            if not re.sub(r"--[^\n]*", "", statement).strip().lower().startswith("set "):
                answered.append(result.fetchall())
    # Each question has an answer on a real warehouse, the quality history aside (its self-check
    # needs a held-back week of data, which four days do not hold).
    as_of, top_categories, exclusions, recommendations, profile, runs, _ = answered
    assert len(as_of) == 1 and len(runs) == len(DAYS)
    assert top_categories and all(row[0] != "minor" for row in top_categories)
    assert {row[2] for row in exclusions} >= {"-", "minor"}
    assert (
        sum(row[3] for row in exclusions) == query(warehouse, "select count(*) from people")[0][0]
    )
    assert [row[0] for row in recommendations] == list(range(1, len(recommendations) + 1))
    assert recommendations and profile


def test_a_backfill_keeps_the_newer_warehouse_unless_asked(home, tmp_path):
    backfill = tmp_path / "backfill"
    shutil.copytree(home, backfill, symlinks=True)
    warehouse = backfill / "warehouse/analytics.duckdb"
    before = query(warehouse, "select * from recommendations order by all")
    # A stale write-ahead log beside the published file goes at the next swap.
    (backfill / "warehouse/analytics.duckdb.wal").write_bytes(b"a writer's leftover")

    kept = kalido("run", "--date", DAYS[0], env=env(backfill))
    assert f"warehouse kept: it was built for {DAYS[1]}, newer than {DAYS[0]}" in kept.stdout
    assert query(warehouse, "select logical_date::varchar from published_as_of") == [(DAYS[1],)]
    assert query(warehouse, "select * from recommendations order by all") == before
    runs = query(
        warehouse,
        "select logical_date::varchar, warehouse_published from pipeline_runs order by started_at",
    )
    assert runs == [(DAYS[0], True), (DAYS[1], True), (DAYS[0], False)]
    assert latest_run(backfill)["stages"]["publish"]["newer_warehouse_kept"] == DAYS[1]
    assert not (backfill / "warehouse/analytics.duckdb.wal").exists()
    assert stat.S_IMODE(warehouse.stat().st_mode) == 0o444
    # Its feed is published all the same; LATEST stays on the newer day.
    feeds = backfill / "exports/email_recommendations"
    assert (feeds / "LATEST").read_text().strip() == DAYS[1]
    assert verify_feed(feeds / f"dt={DAYS[0]}")["logical_date"] == DAYS[0]

    replaced = kalido("run", "--date", DAYS[0], "--replace-newer", env=env(backfill))
    assert f"warehouse replaced one built for {DAYS[1]}" in replaced.stdout
    assert query(warehouse, "select logical_date::varchar from published_as_of") == [(DAYS[0],)]
    assert query(warehouse, "select * from recommendations order by all") != before


def latest_run(home: Path) -> dict:
    records = [json.loads(p.read_text()) for p in (home / "runs").glob("cli__*.json")]
    return max(records, key=lambda r: r["started_at"])
