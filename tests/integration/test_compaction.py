"""Erasure immediate in effect, batched in bytes (issue 25): the night a request arrives the person
leaves everything derived, published or exported; their bytes leave every retained file in a
compaction (kalido purge --compact, or by itself a policy lead before the request is due)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from kalido.config import Layout
from kalido.db import connect
from kalido.pipelines.nightly import configure, run_nightly, run_purge
from kalido.pipelines.requests import RequestsNeedAttention, check_requests
from kalido.pseudonyms import pseudonym
from kalido.stores.staged import open_staged_browsing
from kalido.timewindow import day_end_utc
from tests.conftest import KEY, ROOT, copy_home, kalido, query, query_raw
from tests.integration.test_dsr import (
    ARCHIVE,
    GONE,
    GONE_COOKIE,
    D,
    assert_gone_everywhere,
    assert_in_no_file,
    duckdb_values_containing,
    feed_rows,
    needles_of_gone,
    pid,
    request_names,
    staged_browsing_of,
)

DUE = date(2026, 12, 24)

# stg_browsing grouped directly, written out here rather than with the pipeline's macros: what
# the summary views (staged.py) must equal, whichever partitions they read summaries of.
PAIRS_OF_EVENTS = """
    select cookie_pid, customer_pid, min(event_time) as first_at, max(event_time) as last_at
    from stg_browsing group by all
"""
SESSIONS_OF_EVENTS = """
    select time_bucket(interval 15 minutes, event_time) as utc_quarter, cookie_pid, session_pid,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'product_view') as product_views
    from stg_browsing group by all
"""
SESSIONS_SUMMED = """
    select utc_quarter, cookie_pid, session_pid, sum(page_views)::bigint as page_views,
        sum(product_views)::bigint as product_views
    from stg_browsing_sessions group by all
"""  # R-ERASE, received on D: due a calendar month later


def with_lead(tmp_path, monkeypatch, days: int) -> None:
    """The shipped policy with another erasure_compaction_lead_days, as KALIDO_POLICY."""
    policy = yaml.safe_load((ROOT / "kalido/policy.yaml").read_text(encoding="utf-8"))
    policy["erasure_compaction_lead_days"] = days
    policy["ad_profiling"]["segments"] = str(ROOT / "kalido/ad_segments.yaml")
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    monkeypatch.setenv("KALIDO_POLICY", str(path))


def cookie_pid(cookie_id: str) -> str:
    return pseudonym(KEY.encode(), "cookie", cookie_id)


def summaries_against_events(home, cutoff) -> dict:
    """The summary views as a stage opens them on night D with `cutoff`: how many partitions
    they read live, and the rows by which each differs from grouping stg_browsing itself."""
    with connect(spill_dir=home / "restricted/spill") as con:
        open_staged_browsing(con, Layout(home), D, cutoff)
        live = con.execute("select getvariable('stg_browsing_live_files')").fetchone()[0]

        def differing(left: str, right: str) -> int:
            return con.execute(
                f"select count(*) from ((({left}) except all ({right}))"
                f" union all (({right}) except all ({left})))"
            ).fetchone()[0]

        return {
            "live_partitions": len(live) - 1,  # the schema file is always among them
            "pairs_rows": con.execute("select count(*) from stg_browsing_pairs").fetchone()[0],
            "pairs_differing": differing("from stg_browsing_pairs", PAIRS_OF_EVENTS),
            "sessions_differing": differing(SESSIONS_SUMMED, SESSIONS_OF_EVENTS),
            "gone_pairs": con.execute(
                "select count(*) from stg_browsing_pairs where customer_pid = $p",
                {"p": pid("C_GONE")},
            ).fetchone()[0],
        }


def purge_report(home, record: dict) -> dict:
    return json.loads(Path(record["stages"]["purge"]["report"]).read_text(encoding="utf-8"))


def staged_read_of(home, user_pid: str) -> int:
    """Events of a person in stg_browsing as the nightly stages read it."""
    with connect(spill_dir=home / "restricted/spill") as con:
        open_staged_browsing(con, Layout(home), D, day_end_utc(D, "Europe/Paris"))
        return con.execute(
            "select count(*) from stg_browsing where customer_pid = $p", {"p": user_pid}
        ).fetchone()[0]


def files_holding(home, needle: bytes) -> list[str]:
    return [
        p.relative_to(home).as_posix()
        for p in sorted(home.rglob("*"))
        if p.is_file() and needle in p.read_bytes()
    ]


def test_the_summaries_stand_for_the_partitions_only_where_they_hold_every_row_read(
    erasure_both, tmp_path, monkeypatch
):
    """Night D, with C_GONE's browsing pending its compaction: the summaries written with the
    partitions are read less the pending rows' pairs; a partition a cutoff cuts is grouped from
    its events. The views equal grouping stg_browsing either way."""
    end_of_d = day_end_utc(D, "Europe/Paris")
    night = summaries_against_events(erasure_both.home, end_of_d)
    assert night["live_partitions"] == 0
    assert night["pairs_rows"] > 0 and night["gone_pairs"] == 0
    assert night["pairs_differing"] == night["sessions_differing"] == 0

    # Rows pending without their pairs (a home from before they were kept): no summary is read
    # until the pairs are written again, here by rebuild-state.
    home = copy_home(erasure_both.home, tmp_path, monkeypatch)
    (home / "work/partitions/browsing/pending_pairs.parquet").unlink()
    unpaired = summaries_against_events(home, end_of_d)
    assert unpaired["live_partitions"] == 1 and unpaired["gone_pairs"] == 0
    assert unpaired["pairs_differing"] == unpaired["sessions_differing"] == 0
    kalido("rebuild-state")
    assert summaries_against_events(home, end_of_d) == night

    (home / "work/partitions/browsing/pending_removal.parquet").unlink()
    summarised = summaries_against_events(home, end_of_d)
    assert summarised["live_partitions"] == 0 and summarised["gone_pairs"] > 0
    assert summarised["pairs_differing"] == summarised["sessions_differing"] == 0

    (record,) = (home / "work/partitions/browsing").glob("dt=*/events.summary.json")
    last = datetime.fromisoformat(json.loads(record.read_text())["last_event_at"])
    cut = summaries_against_events(home, last - timedelta(hours=1))
    assert cut["live_partitions"] == 1
    assert 0 < cut["pairs_rows"] < summarised["pairs_rows"]
    assert cut["pairs_differing"] == cut["sessions_differing"] == 0

    # Summaries written by other SQL than today's stand for nothing.
    record.write_text(json.dumps(json.loads(record.read_text()) | {"recipe": "older"}))
    assert summaries_against_events(home, end_of_d)["live_partitions"] == 1


def summary_rows(home) -> dict[str, list]:
    """Every summary file of the staged partitions, by name, with its rows sorted."""
    found = {}
    with duckdb.connect() as con:
        for path in sorted((home / "work/partitions/browsing").rglob("*.*.parquet")):
            rows = con.execute("select * from read_parquet($f)", {"f": str(path)}).fetchall()
            found[path.relative_to(home).as_posix()] = sorted(rows, key=repr)
    return found


def test_rebuild_state_gives_the_summaries_the_nights_wrote(erasure_both, tmp_path, monkeypatch):
    home = copy_home(erasure_both.home, tmp_path, monkeypatch)
    partitions = home / "work/partitions/browsing"
    (partitions / "pending_removal.parquet").unlink()  # every partition may be summarised
    end_of_d = day_end_utc(D, "Europe/Paris")
    written = summary_rows(home)
    assert len(written) == 4  # pairs and sessions of the one partition and of the schema file
    assert any(written.values())
    for path in partitions.glob("dt=*/events.*.*"):
        path.unlink()  # the state lost: the partition's events are grouped instead
    lost = summaries_against_events(home, end_of_d)
    assert lost["live_partitions"] == 1 and lost["pairs_rows"] > 0

    result = kalido("rebuild-state")
    assert "rebuilt the summaries of 1 staged browsing partitions" in result.stdout
    assert summary_rows(home) == written
    assert summaries_against_events(home, end_of_d)["live_partitions"] == 0


def erasure_entry(report: dict, home) -> dict:
    named = request_names(home, ["R-ERASE"])
    (entry,) = [e for e in report["erasures"] if named.get(e["request"]) == "R-ERASE"]
    return entry


def test_an_erasure_is_in_effect_the_night_it_arrives_and_gone_in_bytes_after_compaction(
    erasure_day_before, erasure_both, tmp_path, monkeypatch
):
    # Night D - 1, then night D: run once for the session, read as they were.
    assert staged_read_of(erasure_day_before.home, pid("C_GONE")) > 0
    record = erasure_both.record
    home = copy_home(erasure_both.home, tmp_path, monkeypatch)
    purge = record["stages"]["purge"]
    assert purge["erased_customers"] == 1 and purge["compacted"] is False
    assert purge["bytes_pending_due_on"] == DUE.isoformat()

    # In effect: nothing derived, published or exported holds the person...
    warehouse = home / "warehouse/analytics.duckdb"
    published = [warehouse, *(p for p in (home / "exports").rglob("*") if p.is_file())]
    assert_in_no_file(home, published, needles_of_gone())
    # (The published request log names the request's customer by pseudonym, as proof.)
    for table in ("people", "views_recent", "interest_profiles", "recommendations"):
        assert query(
            warehouse, f"select count(*) from {table} where user_pid = ?", [pid("C_GONE")]
        ) == [(0,)]
    gone = [*needles_of_gone(), pid("C_GONE").encode()]
    assert "C_GONE" not in {r["customer_id"] for r in feed_rows(home, D - timedelta(days=1))}
    assert not duckdb_values_containing(home / "work/pipeline.duckdb", gone)
    assert staged_read_of(home, pid("C_GONE")) == 0
    assert query_raw(
        home, "select count(*) from raw_browsing where cookie_id = ?", [GONE_COOKIE]
    ) == [(0,)]
    assert query_raw(home, "select count(*) from raw_customers where customer_id = 'C_GONE'") == [
        (0,)
    ]
    # ... while their bytes wait in the retained files for the compaction.
    assert staged_browsing_of(home, pid("C_GONE"), cookie_pid(GONE_COOKIE)) > 0
    holding = files_holding(home, GONE_COOKIE.encode())
    assert any(p.startswith("restricted/raw_browsing/") for p in holding)
    assert any(p.startswith("landing/") for p in holding)
    assert not [p for p in holding if not p.startswith(("restricted/", "landing/", "work/"))]
    entry = erasure_entry(purge_report(home, record), home)
    assert entry["deadline"] == DUE.isoformat() and entry["in_effect_on"] == D.isoformat()
    assert entry["bytes_removed_on"] is None

    compaction = run_purge(D, compact=True)
    assert compaction["stages"]["purge"]["compacted"] is True
    assert_gone_everywhere(home)
    # The partitions the compaction rewrote were summarised again: no summary holds them either.
    assert staged_browsing_of(home, pid("C_GONE"), cookie_pid(GONE_COOKIE)) == 0
    assert not (home / "work/partitions/browsing/pending_removal.parquet").exists()
    assert not (home / "work/partitions/browsing/pending_pairs.parquet").exists()
    assert erasure_entry(purge_report(home, compaction), home)["bytes_removed_on"] == D.isoformat()
    assert query(
        home / "restricted/raw.duckdb",
        "select bytes_removed_on from request_log where request_id = 'R-ERASE'",
    ) == [(D,)]
    # The archive keeps the invoice identity only.
    assert not duckdb_values_containing(home / ARCHIVE, [GONE["email"].encode()])

    # The staged partitions the compaction rewrote mirror their raw files: the next night reuses
    # them, and publishes what it published before.
    before = query(warehouse, "select user_pid, rank, product_id from recommendations order by all")
    after = run_nightly(D, force=True)
    pseudonymise = after["stages"]["pseudonymise"]
    assert pseudonymise["browsing_partitions_rebuilt"] == 0
    assert pseudonymise["browsing_partitions_filtered"] == 0
    assert after["stages"]["purge"]["compacted"] is False
    assert (
        query(warehouse, "select user_pid, rank, product_id from recommendations order by all")
        == before
    )


def test_compaction_comes_by_itself_a_lead_before_the_deadline(
    erasure_night, tmp_path, monkeypatch
):
    home = copy_home(erasure_night.home, tmp_path, monkeypatch)  # after night D
    waiting = run_purge(DUE - timedelta(days=8))  # policy lead: 7 days
    assert waiting["stages"]["purge"]["compacted"] is False
    assert files_holding(home, GONE_COOKIE.encode())
    compacted = run_purge(DUE - timedelta(days=7))
    assert compacted["stages"]["purge"]["compacted"] is True
    assert_gone_everywhere(home)
    entry = erasure_entry(purge_report(home, compacted), home)
    assert entry["bytes_removed_on"] == (DUE - timedelta(days=7)).isoformat()


def test_with_no_lead_the_compaction_comes_on_the_deadline_and_never_later(
    erasure_night, tmp_path, monkeypatch
):
    # After night D (the lead plays no part on D: the erasure is due a month later).
    home = copy_home(erasure_night.home, tmp_path, monkeypatch)
    with_lead(tmp_path, monkeypatch, 0)
    assert run_purge(DUE - timedelta(days=1))["stages"]["purge"]["compacted"] is False
    settings, policy = configure()
    # Still pending on its deadline's eve and day: no alarm yet.
    check_requests(settings, policy, DUE, "check")
    # A day past it without the compaction: the run fails, naming the request by pseudonym.
    with pytest.raises(RequestsNeedAttention, match="1 erasures with bytes past due") as failed:
        check_requests(settings, policy, DUE + timedelta(days=1), "check")
    assert "R-ERASE" not in str(failed.value)
    assert request_names(home, ["R-ERASE"]).keys() & {str(failed.value).rsplit(": ", 1)[1]}
    assert run_purge(DUE)["stages"]["purge"]["compacted"] is True
    assert_gone_everywhere(home)
    status = check_requests(settings, policy, DUE + timedelta(days=1), "check")
    assert status["bytes_overdue"] == 0


def test_the_lead_is_policy_and_validated(tmp_path, monkeypatch, home):
    from kalido.config import ConfigError
    from kalido.policy import load_policy

    assert load_policy().erasure_compaction_lead_days == 7
    with_lead(tmp_path, monkeypatch, -1)
    with pytest.raises(ConfigError, match="erasure_compaction_lead_days"):
        load_policy(tmp_path / "policy.yaml")
