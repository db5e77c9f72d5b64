"""Data-subject requests, retention and purge on a hand-made zone, through the whole nightly run."""

from __future__ import annotations

import csv
import fnmatch
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kalido.config import ConfigError, Layout
from kalido.db import attach, connect
from kalido.pipelines.nightly import run_nightly, run_purge
from kalido.pipelines.purge import ENFORCED
from kalido.policy import UNTIMED_CLOCKS, load_policy
from kalido.pseudonyms import pseudonym
from kalido.suppression import request_pseudonym, suppression_secret
from tests.conftest import KEY, copy_home, kalido, query, query_raw, warehouse_tables
from tests.landing import CUSTOMER_COLUMNS, ORDER_COLUMNS, Landing, catalogue

D = date(2026, 11, 24)
DAY0 = D - timedelta(days=3)
CROWD = [f"CROWD{i}" for i in range(8)]
GONE = {
    "customer_id": "C_GONE",
    "email": "zoe.gone@example.org",
    "first_name": "Zoelle",
    "last_name": "Vanishing",
    "phone": "+33 7 99 88 77 66",
    "street": "7 impasse des Oubliettes",
}
GONE_DETAILS = {k: v for k, v in GONE.items() if k != "customer_id"}
GONE_COOKIE = "ck_gone_device"
ARCHIVE = "restricted/archive/legal_archive.duckdb"


def pid(customer_id: str, key: str = KEY) -> str:
    return pseudonym(key.encode(), "customer", customer_id)


def request_names(home, request_ids) -> dict[str, str]:
    """request pseudonym -> request id, under the home's suppression secret."""
    secret = suppression_secret(Layout(home))
    return {request_pseudonym(secret, r): r for r in request_ids}


def build_zone(landing: Landing) -> None:
    """C_GONE erases on D; C_OBJ objects to email, C_RESTR restricts, C_ACC asks for access."""
    ids = ["C_KEEP", "C_GONE", "C_OBJ", "C_RESTR", "C_ACC", *CROWD]
    customers = [
        Landing.customer(cid, "1980-05-05", **(GONE_DETAILS if cid == "C_GONE" else {}))
        for cid in ids
    ]
    landing.csv("customers", DAY0, CUSTOMER_COLUMNS, customers)
    landing.csv("products", DAY0, list(catalogue()[0]), catalogue())
    consents = [Landing.consent(c, p) for c in ids for p in ("personalisation", "email_marketing")]
    consents.append(Landing.consent(GONE_COOKIE, "ad_profiling", subject_type="cookie"))
    landing.jsonl("consents", DAY0, consents)
    events = []
    base = datetime(2026, 11, 21, 9, 0)
    for n, cid in enumerate(ids):
        cookie = GONE_COOKIE if cid == "C_GONE" else f"ck_{cid}"
        for k, product in enumerate(["P000", "P001", "P002", f"P{10 + n:03d}"]):
            events.append(landing.event(cookie, cid, product, base + timedelta(minutes=k)))
    # An anonymous visit on C_GONE's own cookie, and a line quarantined for its event type.
    events.append(landing.event(GONE_COOKIE, None, "P005", base + timedelta(hours=2)))
    bad = landing.event(GONE_COOKIE, "C_GONE", "P006", base, event_type="teleport")
    landing.jsonl("browsing", DAY0, [*events, bad], gz=True)
    orders = [
        {
            "order_id": f"O{cid}",
            "line_no": "1",
            "customer_id": cid,
            "ordered_at": "2026-11-21T10:00:00Z",
            "product_id": "P003",
            "quantity": "1",
            "unit_price": "19.90",
            "currency": "EUR",
            "channel": "web",
            "status": "delivered",
        }
        for cid in ("C_GONE", "C_KEEP")
    ]
    landing.parquet("orders", DAY0, [{c: o[c] for c in ORDER_COLUMNS} for o in orders])
    landing.jsonl(
        "requests",
        D,
        [
            Landing.request("R-ERASE", "C_GONE", "erasure", "2026-11-24T08:00:00Z"),
            Landing.request(
                "R-OBJ", "C_OBJ", "objection", "2026-11-24T08:00:00Z", "email_marketing"
            ),
            Landing.request("R-RESTR", "C_RESTR", "restriction", "2026-11-24T08:00:00Z"),
            Landing.request("R-ACC", "C_ACC", "access", "2026-11-24T08:00:00Z"),
        ],
    )


def needles_of_gone() -> list[bytes]:
    return [v.encode() for v in (*GONE.values(), GONE_COOKIE)]


def files_outside_archive(home):
    for path in sorted(home.rglob("*")):
        if path.is_file() and path.relative_to(home).as_posix() != ARCHIVE:
            yield path


def duckdb_values_containing(path, needles: list[bytes]) -> list[str]:
    """Values of any text column holding a needle (DuckDB compresses strings, so bytes hide)."""
    found = []
    with connect(spill_dir=path.parent / ".scan.spill") as con:
        attach(con, path, "scanned")
        columns = con.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_catalog = 'scanned' and data_type in ('VARCHAR', 'JSON')"
        ).fetchall()
        for table, column in columns:
            for needle in needles:
                hit = con.execute(
                    f'select count(*) from scanned."{table}"'
                    f' where contains(lower("{column}"::varchar), lower($n))',
                    {"n": needle.decode()},
                ).fetchone()[0]
                if hit:
                    found.append(f"{table}.{column}")
    return found


def parquet_values_containing(path, needles: list[bytes]) -> list[str]:
    """Text columns of a Parquet file holding a needle (its pages are compressed)."""
    table = pq.read_table(path)
    return [
        name
        for name, column in zip(table.column_names, table.columns, strict=True)
        if pa.types.is_string(column.type)
        for needle in needles
        if any(needle.decode().lower() in (v or "").lower() for v in column.to_pylist())
    ]


def assert_in_no_file(home, paths, needles: list[bytes]) -> None:
    """No needle in any of the files: bytes, DuckDB text values and Parquet text columns."""
    for path in paths:
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, f"{needle!r} in {path.relative_to(home)}"
        if path.suffix == ".duckdb":
            assert not duckdb_values_containing(path, needles), path.relative_to(home)
        if path.suffix == ".parquet":
            assert not parquet_values_containing(path, needles), path.relative_to(home)


def assert_gone_everywhere(home) -> None:
    scanned = list(files_outside_archive(home))
    assert any(p.suffix == ".duckdb" for p in scanned) and any(
        p.is_relative_to(home / "landing") for p in scanned
    )
    assert any(p.is_relative_to(home / "restricted/raw_browsing") for p in scanned)
    assert_in_no_file(home, scanned, needles_of_gone())


def staged_browsing_of(home, user_pid: str, cookie_pid: str | None = None) -> int:
    """Rows of a person (their customer pseudonym, or their cookie's) in every staged Parquet
    file: the partitions and their summaries (the sessions summary names cookies only)."""
    files = sorted(str(p) for p in (home / "work/partitions/browsing").glob("dt=*/*.parquet"))
    assert files
    with duckdb.connect() as con:
        return con.execute(
            "select count(*) from read_parquet($f, hive_partitioning = false,"
            " union_by_name = true) where customer_pid = $p or cookie_pid = $c",
            {"f": files, "p": user_pid, "c": cookie_pid},
        ).fetchone()[0]


def feed_rows(home, day) -> list[dict]:
    path = home / f"exports/email_recommendations/dt={day}/recommendations.csv"
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def zone(home, landing):
    build_zone(landing)
    return home


def test_requests_erase_object_restrict_and_answer_access(
    erasure_day_before, erasure_both, tmp_path, monkeypatch
):
    # Night D - 1, then night D: run once for the session, read as they were.
    day_before = erasure_day_before.home
    before = {r["customer_id"] for r in feed_rows(day_before, D - timedelta(days=1))}
    assert {"C_GONE", "C_OBJ", "C_RESTR"} <= before
    counts_before = {
        t: query_raw(day_before, f"select count(*) from {t}")[0][0]
        for t in ("raw_customers", "raw_browsing", "raw_consents", "raw_orders")
    }

    assert staged_browsing_of(day_before, pid("C_GONE")) > 0
    record = erasure_both.record
    home = copy_home(erasure_both.home, tmp_path, monkeypatch)
    landing = Landing(home)
    assert record["stages"]["purge"]["erased_customers"] == 1
    # In effect tonight: nothing published or exported holds them (tests/test_compaction.py
    # checks the rest); their bytes go with the compaction.
    exported = [p for p in (home / "exports").rglob("*") if p.is_file()]
    assert_in_no_file(home, [home / "warehouse/analytics.duckdb", *exported], needles_of_gone())
    compaction = run_purge(D, compact=True)
    assert_gone_everywhere(home)
    # The browsing partitions kept between runs lose the erased customer's pseudonymised events.
    assert staged_browsing_of(home, pid("C_GONE")) == 0

    # The legal archive keeps the invoice data only.
    archive = home / ARCHIVE
    assert query(archive, "select customer_id, order_id from archive_orders") == [
        ("C_GONE", "OC_GONE")
    ]
    held = archive.read_bytes()
    assert not duckdb_values_containing(archive, [b"example.org", b"+33 7", GONE_COOKIE.encode()])
    assert b"zoe.gone" not in held

    # Older feeds lose the erased, objecting and restricted customers; manifests follow.
    older = feed_rows(home, D - timedelta(days=1))
    assert {r["customer_id"] for r in older} == before - {"C_GONE", "C_OBJ", "C_RESTR"}
    manifest = json.loads(
        (
            home / f"exports/email_recommendations/dt={D - timedelta(days=1)}/manifest.json"
        ).read_text()
    )
    assert manifest["rows"] == len(older)
    today = {r["customer_id"] for r in feed_rows(home, D)}
    assert not today & {"C_GONE", "C_OBJ", "C_RESTR"} and "C_KEEP" in today
    warehouse = home / "warehouse/analytics.duckdb"
    profiled = {r[0] for r in query(warehouse, "select distinct user_pid from recommendations")}
    assert pid("C_RESTR") not in profiled and pid("C_OBJ") in profiled

    # The access export holds everything about C_ACC, readable and machine-readable.
    export = json.loads((home / "exports/subject_access/R-ACC.json").read_text())
    assert export["account"]["customer_id"] == "C_ACC"
    assert export["account"]["email"] == "c_acc@example.fr"
    assert export["cookies"] == ["ck_C_ACC"]
    assert {c["purpose"] for c in export["consents"]} == {"personalisation", "email_marketing"}
    assert len(export["recent_views"]) == 4 and export["orders"] == []
    assert export["interest_profile"] and len(export["recommendations"]) == 20
    assert export["processing"]["may_profile"] is True
    assert "raw_browsing" in export["policy"]["retention"]
    assert export["requests"][0]["request_id"] == "R-ACC"

    # The request log: complete, due in a calendar month, no identifier (request ids are
    # published as their keyed pseudonyms), published.
    named = request_names(home, ("R-ACC", "R-ERASE", "R-OBJ", "R-RESTR"))
    log_rows = sorted(
        (named[r[0]], *r[1:])
        for r in query(
            warehouse,
            "select request_pid, type, customer_pid, due_on, completed_on, status, rows_affected"
            " from request_log",
        )
    )
    assert [(r[0], r[5]) for r in log_rows] == [
        ("R-ACC", "completed"),
        ("R-ERASE", "completed"),
        ("R-OBJ", "completed"),
        ("R-RESTR", "completed"),
    ]
    assert all(r[3] == date(2026, 12, 24) and r[4] == D for r in log_rows)
    erase = dict((r[0], r) for r in log_rows)["R-ERASE"]
    assert erase[2] == pid("C_GONE")
    assert json.loads(erase[6]) == {
        "archive_orders": 1,
        "raw_browsing": 5,
        "raw_consents": 3,
        "raw_customers": 1,
        "raw_orders": 1,
        "raw_requests": 1,
    }

    # The purge reports' counts are what disappeared: rows in effect the night of the request,
    # landing bytes in the compaction.
    report = json.loads(Path(record["stages"]["purge"]["report"]).read_text())
    stores = report["stores"]
    for table, n_before in counts_before.items():
        n_after = query_raw(home, f"select count(*) from {table}")[0][0]
        assert stores[table]["rows_removed"] == n_before - n_after, table
    assert stores["raw_quarantine"]["rows_removed"] == 1
    assert "landing_files" not in stores
    assert stores["id_pseudonyms"]["rows_removed"] == 2
    assert stores["legal_archive"]["rows_archived"] == 2
    assert stores["email_feeds"]["rows_removed"] == 60
    compacted = json.loads(Path(compaction["stages"]["purge"]["report"]).read_text())["stores"]
    assert compacted["landing_files"]["rows_removed"] == 1 + 6 + 3 + 1 + 1
    assert compacted["landing_files"]["files_rewritten"] == 5
    assert compacted["raw_browsing"] == {
        "rows_removed": 0,
        "files_removed": 0,
        "files_rewritten": 1,
        "rows_archived": 0,
    }
    published = query(warehouse, "select store, rows_removed from purge_log where rows_removed > 0")
    assert ("raw_browsing", 5) in published

    # A later CRM delivery of the same customer does not resurrect them.
    landing.csv(
        "customers",
        D + timedelta(days=1),
        CUSTOMER_COLUMNS,
        [Landing.customer("C_GONE", **GONE_DETAILS, updated_at="2026-11-25T09:00:00Z")],
    )
    again = run_nightly(D + timedelta(days=1))
    assert again["stages"]["purge"]["suppressed_customers"] == 1
    assert again["stages"]["purge"]["compacted"] is False
    assert_in_no_file(home, [home / "warehouse/analytics.duckdb"], needles_of_gone())
    run_purge(D + timedelta(days=1), compact=True)
    assert_gone_everywhere(home)
    first = warehouse_tables(warehouse)
    assert pid("C_GONE") not in {row[0] for row in first["recommendations"]}

    # Reruns are idempotent: nothing more to remove, the same warehouse.
    rerun = run_nightly(D + timedelta(days=1), force=True)
    assert rerun["stages"]["purge"]["rows_removed"] == 0
    assert rerun["stages"]["purge"]["files_removed"] == 0
    assert warehouse_tables(warehouse) == first


def test_years_later_nothing_outlives_its_period(erasure_night, tmp_path, monkeypatch):
    home = copy_home(erasure_night.home, tmp_path, monkeypatch)  # after night D
    assert (home / "exports/subject_access/R-ACC.json").exists()
    later = date(2032, 1, 10)  # > 5 years after everyone's last activity
    record = run_purge(later)
    purge = record["stages"]["purge"]
    assert purge["expired_customers"] == 12  # all but C_GONE, already erased
    for table in ("raw_customers", "raw_browsing", "raw_consents", "raw_orders", "id_pseudonyms"):
        assert query_raw(home, f"select count(*) from {table}") == [(0,)], table
    assert query_raw(home, "select count(*) from raw_quarantine") == [(0,)]
    assert [p.name for p in (home / "restricted/raw_browsing").rglob("*.parquet")] == [
        "_schema.parquet"
    ]
    assert not [p for p in (home / "landing").rglob("*") if p.is_file()]
    assert not list((home / "exports/email_recommendations").glob("dt=*"))
    assert not list((home / "exports/subject_access").glob("*.json"))
    records = [p.name for p in (home / "runs").iterdir() if p.name != "run.lock"]
    assert records == [f"{record['run_id']}.json"]
    # The archive keeps C_KEEP's order for the accounting period, then lets it go too.
    assert query(home / ARCHIVE, "select customer_id from archive_orders order by 1") == [
        ("C_GONE",),
        ("C_KEEP",),
    ]
    run_purge(date(2037, 1, 10))
    assert query(home / ARCHIVE, "select count(*) from archive_orders") == [(0,)]
    assert query(home / ARCHIVE, "select count(*) from archive_customers") == [(0,)]


def test_ad_profiling_cookie_goes_13_months_after_its_first_grant(home, landing):
    landing.csv("products", DAY0, list(catalogue()[0]), catalogue())
    landing.jsonl(
        "consents",
        DAY0,
        [
            Landing.consent(
                "ck_ad", "ad_profiling", at="2025-10-01T00:00:00Z", subject_type="cookie"
            ),
            Landing.consent(
                "ck_ad", "ad_profiling", at="2026-11-01T00:00:00Z", subject_type="cookie"
            ),
        ],
    )
    landing.jsonl(
        "browsing",
        DAY0,
        [
            landing.event("ck_ad", None, "P001", datetime(2026, 11, 20, 9)),
            landing.event("ck_other", None, "P001", datetime(2026, 11, 20, 9)),
        ],
    )
    run_nightly(D)  # more than 13 months after 2025-10-01: the grant of 2026 renews nothing
    assert query_raw(home, "select cookie_id from raw_browsing") == [("ck_other",)]
    assert query_raw(home, "select count(*) from raw_consents") == [(0,)]


def test_late_or_overdue_requests_fail_the_run_after_publishing(zone, landing):
    landing.jsonl(
        "requests",
        D,
        [
            # The CRM row of 2026-11-01 already holds the correction, but the request is due
            # 2026-11-15: answered late on D. The second waits for its CRM correction.
            Landing.request("R-LATE", "C_KEEP", "rectification", "2026-10-15T08:00:00Z"),
            Landing.request("R-OPEN", "C_ACC", "rectification", "2026-11-10T08:00:00Z"),
        ],
        name="rectifications.jsonl",
    )
    result = kalido("run", "--date", D.isoformat(), check=False)
    assert result.returncode == 1
    # Named by their pseudonyms: a request id is the sender's free text.
    named = {r: p for p, r in request_names(zone, ("R-LATE", "R-OPEN")).items()}
    assert "R-LATE" not in result.stdout + result.stderr
    assert "answered late 1" in result.stdout
    assert f"ATTENTION requests {named['R-LATE']}" in result.stdout
    assert (zone / f"exports/email_recommendations/dt={D}/manifest.json").exists()
    overdue = kalido("run", "--date", "2026-12-15", check=False)
    assert overdue.returncode == 1
    assert "overdue 1" in overdue.stdout
    assert f"ATTENTION requests {named['R-OPEN']}" in overdue.stdout
    # Run again with nothing new: every output stage is skipped, the check still fails the run.
    again = kalido("run", "--date", "2026-12-15", check=False)
    assert again.returncode == 1
    assert "so every stage but the requests' check was skipped" in again.stdout
    assert f"ATTENTION requests {named['R-OPEN']}" in again.stdout
    for output in (result, overdue, again):
        assert "C_ACC" not in output.stdout + output.stderr
    # The corrected CRM row arrives: the request completes and the superseded version goes.
    landing.csv(
        "customers",
        date(2026, 12, 16),
        CUSTOMER_COLUMNS,
        [Landing.customer("C_ACC", last_name="Corrected", updated_at="2026-12-16T08:00:00Z")],
    )
    assert kalido("run", "--date", "2026-12-16", check=False).returncode == 1  # answered late
    raw = zone / "restricted/raw.duckdb"
    assert query(raw, "select last_name from raw_customers where customer_id = 'C_ACC'") == [
        ("Corrected",)
    ]
    assert kalido("run", "--date", "2026-12-17").returncode == 0


def test_key_rotation_unlinks_old_pseudonyms(erasure_night, tmp_path, monkeypatch):
    zone = copy_home(erasure_night.home, tmp_path, monkeypatch)  # after night D
    new_key = "rotated-pseudonym-key-abcdefghijklmnopqrstuvwxyz"
    env = {"KALIDO_PSEUDONYM_KEY": new_key, "KALIDO_PSEUDONYM_KEY_VERSION": "2"}
    result = kalido("rotate-key", env=env)
    assert "key version 2" in result.stdout
    assert kalido("rotate-key", env=env, check=False).returncode == 2  # not above the current one
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY", new_key)
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY_VERSION", "2")
    run_nightly(D)
    raw = zone / "restricted/raw.duckdb"
    assert query(raw, "select distinct key_version from id_pseudonyms") == [(2,)]
    old = pid("C_KEEP")
    for path in (raw, zone / "warehouse/analytics.duckdb"):
        assert not duckdb_values_containing(path, [old.encode()]), path
    warehouse = zone / "warehouse/analytics.duckdb"
    pids = {r[0] for r in query(warehouse, "select distinct user_pid from recommendations")}
    assert pid("C_KEEP", new_key) in pids
    named = request_names(zone, ("R-ACC", "R-ERASE", "R-OBJ", "R-RESTR"))
    log_pids = {
        named[r]: p
        for r, p in query(warehouse, "select request_pid, customer_pid from request_log")
    }
    assert log_pids["R-ACC"] == pid("C_ACC", new_key) and log_pids["R-ERASE"] is None
    # The old key under version 1 is still refused (the fingerprint is kept).
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY_VERSION", "2")
    with pytest.raises(ConfigError):
        run_nightly(D)


def test_every_store_and_table_written_has_a_retention_rule(erasure_both, tmp_path, monkeypatch):
    home = copy_home(erasure_both.home, tmp_path, monkeypatch)  # after nights D - 1 and D
    (home / "restricted/logs").mkdir(exist_ok=True)
    (home / "restricted/logs/example.traceback.txt").write_text("x")
    stores = load_policy().retention.values()
    files = [p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()]
    assert {"restricted/raw.duckdb", ARCHIVE, "work/pipeline.duckdb"} <= set(files)
    for relative in files:
        covering = [s for s in stores if fnmatch.fnmatch(relative, s.location)]
        assert covering, f"no retention rule covers {relative}"
        if relative.endswith(".duckdb"):
            tables = [
                r[0] for r in query(home / relative, "select table_name from duckdb_tables()")
            ]
            assert tables, relative
            for table in tables:
                assert any(s.table and fnmatch.fnmatch(table, s.table) for s in covering), (
                    f"no retention rule covers table {table} of {relative}"
                )


def test_purge_enforces_exactly_the_timed_rules_of_the_policy():
    timed = {
        (store.name, rule.after)
        for store in load_policy().retention.values()
        for rule in store.rules
        if rule.after not in UNTIMED_CLOCKS
    }
    assert timed == ENFORCED
