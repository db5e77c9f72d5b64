"""The DPO's report (issue 29): both files for a period, every section's figures equal to what the
stores hold, no identifier of anyone, the same report.json on re-generation, charts and the
requests table rendered by a real browser, and the monthly DAG."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from kalido.config import ConfigError
from kalido.policy import DEFAULT_POLICY_PATH, load_policy
from tests.conftest import KEY, kalido, query, query_raw
from tests.integration.test_dsr import request_names
from tests.integration.test_generated_zone_end_to_end import IDENTIFIER_SHAPES, landing_identifiers

D = "2026-11-24"
FROM, TO = "2026-10-01", "2026-11-24"  # wide enough to hold a request received in October
LATE_REQUEST_ID = "dpo.test+late@example.org"  # an email as request id: the sender's free text
CHROMIUM = Path("/usr/bin/chromium")
TZ = "Europe/Paris"


def env(home: Path) -> dict:
    return {"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": KEY}


@pytest.fixture(scope="module")
def zone(tmp_path_factory) -> Path:
    """A generated zone of 5 days run on its last day, with one access request received in
    October and delivered late: answered on D, it is late, and the run fails after publishing."""
    home = tmp_path_factory.mktemp("report") / "home"
    kalido("generate", "--days", "5", "--users", "200", "--products", "80", "--out", str(home))
    late = {
        "request_id": LATE_REQUEST_ID,
        "customer_id": "C0000010",
        "type": "access",
        "purpose": None,
        "received_at": "2026-10-10T09:00:00Z",
    }
    (home / "landing/requests/dt=2026-11-20/late.jsonl").write_text(json.dumps(late) + "\n")
    run = kalido("run", "--date", D, env=env(home), check=False)
    assert run.returncode == 1 and "ATTENTION" in run.stdout, run.stdout + run.stderr
    return home


def out_dir(home: Path, start: str = FROM, end: str = TO) -> Path:
    return home / "reports" / "dpo" / f"{start}_{end}"


@pytest.fixture(scope="module")
def reported(zone) -> dict:
    result = kalido("report", "--from", FROM, "--to", TO, env=env(zone))
    out = out_dir(zone)
    return {
        "stdout": result.stdout,
        "json": json.loads((out / "report.json").read_text(encoding="utf-8")),
        "html": (out / "report.html").read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def report(reported) -> dict:
    return reported["json"]


def raw(home: Path, sql: str, params=None) -> list[tuple]:
    return query(home / "restricted/raw.duckdb", sql, params)


def run_record(home: Path) -> dict:
    (path,) = (home / "runs").glob("*.json")
    return json.loads(path.read_text())


def local_day(column: str) -> str:
    return f"cast(timezone('{TZ}', timezone('UTC', {column})) as date)"


# --- the files ----------------------------------------------------------------------------------


def test_kalido_report_writes_one_offline_page_and_its_json(zone, reported, report):
    assert f"{out_dir(zone)}/report.html" in reported["stdout"]
    assert report["period"] == {"from": FROM, "to": TO, "as_of": D}
    assert set(report) >= {
        "generated_at",
        "record_of_processing",
        "requests",
        "retention",
        "consent",
        "shared",
        "quality",
        "integrity",
        "findings",
    }
    page = reported["html"]
    # One self-contained file: no script, nothing to fetch, a policy that forbids fetching.
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<script|<link|<img|<iframe|src=|url\(|@import", page, re.I)
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}
    for chart in ("retention-chart", "eligibility-chart", "shared-chart"):
        assert f'<svg id="{chart}"' in page
    assert '<table id="requests-table">' in page


# --- 1. record of processing --------------------------------------------------------------------


def test_the_record_of_processing_is_the_policy_file(reported, report):
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    expected = [
        {
            "purpose": name,
            "kind": kind,
            "description": spec["description"],
            "legal_basis": spec["legal_basis"],
            "data_subjects": spec["data_subjects"],
            "categories": spec["categories"],
            "stores": spec["stores"],
            "recipients": spec["recipients"],
            "retention": {
                store: [
                    {"after": r["after"], "keep": r.get("keep"), "then": r.get("then")}
                    for r in policy["retention"][store]["rules"]
                ]
                for store in spec["stores"]
            },
        }
        for kind, section in (("consent purpose", "purposes"), ("processing", "processing"))
        for name, spec in policy[section].items()
    ]
    record = report["record_of_processing"]
    assert record["purposes"] == expected
    assert record["unaccounted_stores"] == []
    table = reported["html"].split('id="record-table"')[1].split("</table>")[0]
    for row in expected:
        assert f"<strong>{html.escape(row['purpose'])}</strong>" in table
        for text in (*row["categories"], *row["recipients"], *row["stores"]):
            assert html.escape(text) in table


def test_every_store_holding_personal_data_is_named_by_a_purpose():
    policy = load_policy()
    named = {
        store
        for p in (*policy.purposes.values(), *policy.processing.values())
        for store in p.stores
    }
    personal = {s.name for s in policy.retention.values() if s.personal_data}
    assert personal - named == set(), "add these stores to a purpose of policy.yaml"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["purposes"]["ad_profiling"].update(categories=[]),
        lambda p: p["processing"]["accounting"].update(stores=["legal_archive", "nowhere"]),
        lambda p: p["purposes"]["email_marketing"].pop("recipients"),
        lambda p: p["processing"]["orders"].update(legal_basis="whim"),
        lambda p: p["processing"].update(personalisation=p["purposes"]["personalisation"]),
    ],
)
def test_a_record_entry_without_categories_or_with_an_unknown_store_is_a_config_error(
    tmp_path, mutate
):
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    mutate(policy)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    with pytest.raises(ConfigError) as error:
        load_policy(path)
    assert "\n" not in str(error.value)


# --- 2. requests --------------------------------------------------------------------------------


def test_requests_are_named_by_pseudonym_late_first_as_the_request_log_holds_them(zone, report):
    logged = raw(
        zone,
        f"select request_pid, type, due_on, completed_on, status from request_log"
        f" where {local_day('received_at')} between $f and $t",
        {"f": FROM, "t": TO},
    )
    listed = report["requests"]["listed"]
    assert len(logged) >= 6
    assert {(e["request"], e["type"], e["due_on"], e["answered_on"]) for e in listed} == {
        (pid, kind, str(due), str(done) if done else None) for pid, kind, due, done, _ in logged
    }
    for entry in listed:
        due, answered = entry["due_on"], entry["answered_on"]
        expected = (
            ("late" if answered > due else "on time")
            if answered
            else ("overdue" if due < D else "open")
        )
        assert entry["state"] == expected, entry
    # The late access request comes first, by its pseudonym.
    (late_pid,) = request_names(zone, [LATE_REQUEST_ID])
    first = listed[0]
    assert (first["request"], first["type"], first["state"]) == (late_pid, "access", "late")
    assert (first["received_on"], first["due_on"], first["answered_on"]) == (
        "2026-10-10",
        "2026-11-10",
        D,
    )
    states = [e["state"] for e in listed]
    assert states == sorted(states, key=["failed", "overdue", "late", "open", "on time"].index)
    totals = report["requests"]["totals"]
    assert sum(t["received"] for t in totals.values()) == len(listed)
    assert totals["access"]["late"] == 1
    (erasure,) = [e for e in listed if e["type"] == "erasure"]
    facts = erasure["erasure"]
    assert (zone / "reports/purge" / facts["purge_report"]).is_file()
    assert facts["purged_on"] == erasure["answered_on"] == D
    assert facts["suppressed_from_outputs_on"] == D  # the same run published without them
    assert erasure["rows_affected"]["raw_customers"] == 1


# --- 3. retention -------------------------------------------------------------------------------


def test_retention_is_measured_on_the_stores_themselves(zone, reported, report):
    rules = {(r["store"], r["clock"]): r for r in report["retention"]["rules"]}
    timed = [r for r in rules.values() if r["status"] != "untimed"]
    assert {r["status"] for r in timed} <= {"within limit", "empty"}
    assert all(r["overdue"] == 0 for r in timed)
    (events, oldest_event), (customers,), (quarantined,), (ledger,) = (
        query_raw(zone, "select count(*), min(event_time) from raw_browsing")[0],
        raw(zone, "select count(distinct customer_id) from raw_customers")[0],
        raw(zone, "select count(*) from raw_quarantine")[0],
        raw(zone, "select count(*) from ingest_ledger")[0],
    )
    assert rules[("raw_browsing", "event")]["held"] == events
    assert rules[("raw_browsing", "event")]["oldest"] == oldest_event.isoformat(timespec="seconds")
    assert rules[("raw_customers", "last_activity")]["held"] == customers
    assert rules[("raw_quarantine", "ingested")]["held"] == quarantined
    assert rules[("ingest_ledger", "ingested")]["held"] == ledger
    landing = [p for p in (zone / "landing").rglob("*") if p.is_file()]
    assert rules[("landing_files", "ingested")]["held"] == len(landing)
    assert rules[("landing_files", "ingested")]["oldest"] == D  # all ingested by the one run
    feeds = list((zone / "exports/email_recommendations").glob("dt=*"))
    assert rules[("email_feeds", "file_time")]["held"] == len(feeds) == 1
    exports = list((zone / "exports/subject_access").glob("*.json"))
    assert rules[("subject_access_exports", "file_time")]["held"] == len(exports)
    # Every timed rule of the policy is measured, and the chart has a bar for each held store.
    policy_rules = {(s.name, r.after) for s in load_policy().retention.values() for r in s.rules}
    assert set(rules) == policy_rules
    assert report["findings"]["retention_rules_not_measured"] == []
    chart = reported["html"].split('<svg id="retention-chart"')[1].split("</svg>")[0]
    assert chart.count('<rect class="bar"') == sum(1 for r in timed if r["held"])
    removed = raw(
        zone,
        "select logical_date, store, sum(rows_removed), sum(files_removed) from purge_log"
        " group by all order by all",
    )
    assert [
        (r["logical_date"], r["store"], r["rows_removed"], r["files_removed"])
        for r in report["retention"]["removed"]
    ] == [(str(d), s, rows, files) for d, s, rows, files in removed]


def test_a_store_holding_something_past_its_limit_is_named_until_the_purge(zone, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(zone, home)
    # An email feed and a traceback two months old, a DPO report of 2020, left behind.
    shutil.copytree(
        home / f"exports/email_recommendations/dt={D}",
        home / "exports/email_recommendations/dt=2026-09-01",
    )
    trace = home / "restricted/logs/old.traceback.txt"
    trace.parent.mkdir(exist_ok=True)
    trace.write_text("x")
    old = datetime(2026, 9, 1).timestamp()
    os.utime(trace, (old, old))
    (home / "reports/dpo/2020-01-01_2020-01-31").mkdir(parents=True)
    (home / "reports/dpo/2020-01-01_2020-01-31/report.json").write_text("{}")

    def overdue() -> list[str]:
        kalido("report", "--from", "2026-11-20", "--to", D, env=env(home))
        document = json.loads((out_dir(home, "2026-11-20", D) / "report.json").read_text())
        return document["findings"]["retention_rules_overdue"]

    assert set(overdue()) == {
        "restricted_logs/file_time",
        "email_feeds/file_time",
        "dpo_reports/file_time",
    }
    page = (out_dir(home, "2026-11-20", D) / "report.html").read_text()
    assert page.count('#c53030"><title>') == 3  # three red bars in the retention chart
    kalido("purge", "--date", D, env=env(home))
    assert overdue() == []
    # The purge ran as a run of its own: the day's outputs are still the nightly run's.
    document = json.loads((out_dir(home, "2026-11-20", D) / "report.json").read_text())
    (today,) = [d for d in document["consent"]["days"] if d["day"] == D]
    assert today["run_id"] == run_record(zone)["run_id"] and today["may_profile"] > 0
    assert len(document["integrity"]["runs"]) == 2  # the nightly and the purge
    assert not (home / "reports/dpo/2020-01-01_2020-01-31").exists()
    assert (out_dir(home) / "report.json").is_file()  # this period's report is kept


# --- 4. consent and eligibility -----------------------------------------------------------------


def test_consent_and_eligibility_are_the_gate_counts_and_the_consent_log(zone, report):
    record = run_record(zone)
    gate = record["stages"]["gate"]
    days = {d["day"]: d for d in report["consent"]["days"]}
    assert len(days) == (date.fromisoformat(TO) - date.fromisoformat(FROM)).days + 1
    assert [day for day, d in days.items() if d["run_id"]] == [D]
    today = days[D]
    assert today["run_id"] == record["run_id"]
    assert (today["customers"], today["may_profile"], today["may_email"]) == (
        gate["customers"],
        gate["may_profile"],
        gate["may_email"],
    )
    # One cause per person not mailed: they add up to everyone not mailed.
    assert today["exclusions_are_one_per_person"]
    assert set(today["exclusions"]) == {
        "erased",
        "minor",
        "closed",
        "restricted",
        "objected",
        "withdrawn",
        "no_consent",
        "inactive",
    }
    assert sum(today["exclusions"].values()) == gate["customers"] - gate["may_email"]
    if "ads" in record["stages"]:
        assert today["may_ad_profile"] == record["stages"]["ads"]["ad_profiles"]
    choices = raw(
        zone,
        f"select purpose, count(*) filter (where status = 'granted'),"
        f" count(*) filter (where status = 'withdrawn') from raw_consents"
        f" where {local_day('recorded_at')} between $f and $t group by purpose",
        {"f": FROM, "t": TO},
    )
    assert choices
    reported = report["consent"]["choices_by_purpose"]
    for purpose, granted, withdrawn in choices:
        assert (reported[purpose]["granted"], reported[purpose]["withdrawn"]) == (
            granted,
            withdrawn,
        )


# --- 5. what was shared -------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_what_was_shared_is_matched_to_its_run_by_the_manifests_hashes(zone, report):
    record = run_record(zone)
    (today,) = [d for d in report["shared"]["days"] if d["run_id"]]
    feed_dir = zone / f"exports/email_recommendations/dt={D}"
    feed = today["email_feed"]
    assert feed["held"] and feed["manifest"]["run_id"] == record["run_id"]
    assert feed["manifest"]["sha256"]["recommendations.csv"] == sha256(
        feed_dir / "recommendations.csv"
    )
    lines = (feed_dir / "recommendations.csv").read_text().splitlines()[1:]
    assert feed["rows_at_publication"] == feed["manifest"]["rows"] == len(lines)
    assert feed["recipients_at_publication"] == record["stages"]["publish"]["feed_recipients"]
    ad_dir = zone / f"exports/ad_segments/dt={D}"
    if ad_dir.is_dir():  # the ad-server export (issue 27)
        for name, digest in today["ad_segments"]["manifest"]["sha256"].items():
            assert digest == sha256(ad_dir / name)
    written = record["stages"]["subject_access"]["access_exports"]
    assert today["subject_access_exports"] == written >= 2
    held = list((zone / "exports/subject_access").glob("*.json"))
    assert report["shared"]["subject_access_exports_held"] == len(held)


# --- 6. data quality and incidents --------------------------------------------------------------


def test_quality_is_the_ledger_the_quarantine_and_the_failed_runs(zone, report):
    quality = report["quality"]
    ledger = raw(
        zone,
        "select source, count(*), sum(rows_read), sum(rows_quarantined) from ingest_ledger"
        " where logical_date between $f and $t group by source order by source",
        {"f": FROM, "t": TO},
    )
    assert [
        (r["source"], r["files"], r["rows_read"], r["rows_quarantined"])
        for r in quality["ingest_by_source"]
    ] == ledger
    reasons = raw(
        zone,
        "select source, reason, count(*) from raw_quarantine group by all order by all",
    )
    assert [(r["source"], r["reason"], r["rows"]) for r in quality["quarantined_by_reason"]] == (
        reasons
    )
    assert reasons
    # The night published, then failed on the late request: listed, with its PII-free error.
    (incident,) = quality["runs_failed_or_abandoned"]
    assert incident["status"] == "failed"
    assert incident["error"].startswith("check_requests")
    assert D not in quality["nights_not_published"]
    assert len(quality["nights_not_published"]) == len(report["consent"]["days"]) - 1


# --- 7. integrity -------------------------------------------------------------------------------


def test_integrity_names_the_runs_and_the_policy_file_in_use(zone, report, tmp_path):
    integrity = report["integrity"]
    assert integrity["runs"] == [run_record(zone)["run_id"]]
    assert integrity["policy"]["sha256"] == sha256(DEFAULT_POLICY_PATH)
    for listed in integrity["purge_reports"]:
        assert listed["sha256"] == sha256(zone / "reports/purge" / listed["name"])
    # Another policy file (KALIDO_POLICY), another place (--out): its own hash, same record.
    policy = tmp_path / "elsewhere.yaml"
    policy.write_text(DEFAULT_POLICY_PATH.read_text() + "# the DPO's copy\n")
    out = tmp_path / "out"
    kalido(
        "report",
        "--from",
        FROM,
        "--to",
        TO,
        "--out",
        str(out),
        env={**env(zone), "KALIDO_POLICY": str(policy)},
    )
    other = json.loads((out / "report.json").read_text())
    assert other["integrity"]["policy"] == {
        "file": "KALIDO_POLICY (elsewhere.yaml)",
        "sha256": sha256(policy),
    }
    assert other["record_of_processing"] == report["record_of_processing"]
    assert (out / "report.html").is_file()


def test_neither_file_holds_an_identifier_of_anyone(zone, reported):
    identifiers = landing_identifiers(zone)
    assert all(identifiers.values()), {k: len(v) for k, v in identifiers.items()}
    # Every request id the log holds (the erased customer's request line left the landing file).
    request_ids = {r[0].encode() for r in raw(zone, "select request_id from request_log")}
    assert LATE_REQUEST_ID.encode() in request_ids and len(request_ids) >= 7
    for name in ("report.json", "report.html"):
        content = (out_dir(zone) / name).read_bytes()
        for kind, shape in IDENTIFIER_SHAPES.items():
            leaked = set(re.findall(shape, content)) & identifiers[kind]
            assert not leaked, f"{kind} {sorted(leaked)[:3]} in {name}"
        for kind in ("email", "phone"):
            assert not [v for v in identifiers[kind] if v in content], f"{kind} in {name}"
        assert not [r for r in request_ids if r in content], f"a request id in {name}"
        assert b"@" not in content, f"an email-like text in {name}"


def _tree(home: Path) -> dict[str, tuple[int, int]]:
    """Every file of the home but the DPO reports and the run lock: size and modification time."""
    return {
        p.relative_to(home).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in home.rglob("*")
        if p.is_file()
        and not p.relative_to(home).as_posix().startswith("reports/dpo/")
        and p.name != "run.lock"
    }


def test_a_regeneration_reads_the_stores_only_and_gives_the_same_json(zone, report):
    before = _tree(zone)
    kalido("report", "--from", FROM, "--to", TO, env=env(zone))
    assert _tree(zone) == before
    again = json.loads((out_dir(zone) / "report.json").read_text())
    assert again.pop("generated_at") >= report["generated_at"]
    assert again == {k: v for k, v in report.items() if k != "generated_at"}


def test_bad_dates_or_a_missing_home_exit_2_with_one_line(zone, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["--from", "2026-11-24", "--to", "2026-11-01"], zone, "after"),
        (["--from", "2026-02-30", "--to", "2026-03-01"], zone, "YYYY-MM-DD"),
        (["--from", "2026-11-01", "--to", "2026-11-24"], tmp_path / "nowhere", "does not exist"),
        (["--from", "2026-11-01", "--to", "2026-11-24"], empty, "no run yet"),
    ]
    for args, home, says in cases:
        result = kalido("report", *args, env=env(home), check=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
        assert not result.stdout
    assert not (tmp_path / "nowhere").exists() and not list(empty.iterdir())


# --- in a real browser ----------------------------------------------------------------------------

MEASURE = """<pre id="layout"></pre><script>
const box = (e) => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
const found = {};
for (const id of ["retention-chart", "eligibility-chart", "shared-chart", "requests-table"]) {
  const e = document.getElementById(id);
  found[id] = e && {box: box(e), bars: [...e.querySelectorAll("rect.bar")]
      .filter((b) => box(b)[0] > 0 && box(b)[1] > 0).length, rows: e.rows ? e.rows.length : 0};
}
document.getElementById("layout").textContent = JSON.stringify(found);
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: the page fetches nothing
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height, and how many byte values its pixel data uses (a blank page: a handful)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    return width, height, len(set(zlib.decompress(b"".join(chunks))))


def test_charts_and_the_requests_table_render_in_headless_chromium(zone, reported, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("KALIDO_REQUIRE_CHROMIUM"):
            pytest.fail("/usr/bin/chromium is missing (make report-check installs it)")
        pytest.skip(
            "/usr/bin/chromium not installed: `make report-check` installs it and runs this"
        )
    page = out_dir(zone) / "report.html"
    shot = tmp_path / "report.png"
    _chromium("--window-size=1280,6000", f"--screenshot={shot}", page.as_uri())
    width, height, colours = _png_size_and_colours(shot)
    assert (width, height) == (1280, 6000) and colours > 100
    # The same page, measured by the browser after layout (a test copy: the report itself runs
    # no script, and its security policy would block this one).
    measured = tmp_path / "measured.html"
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", reported["html"])
    measured.write_text(text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", measured.as_uri()).stdout
    layout = json.loads(html.unescape(re.search(r'<pre id="layout">(.*?)</pre>', dom).group(1)))
    report = reported["json"]
    held = [r for r in report["retention"]["rules"] if r["status"] != "untimed" and r["held"]]
    assert layout["retention-chart"]["bars"] == len(held)
    assert layout["eligibility-chart"]["bars"] >= 2 and layout["shared-chart"]["bars"] >= 1
    for chart in ("retention-chart", "eligibility-chart", "shared-chart"):
        width, height = layout[chart]["box"]
        assert width > 400 and height > 150, (chart, layout[chart])
    table = layout["requests-table"]
    assert table["rows"] == len(report["requests"]["listed"]) + 1 and table["box"][1] > 100


# --- the monthly DAG ----------------------------------------------------------------------------


def test_the_report_dag_loads_and_reports_the_month_of_its_interval(
    zone, tmp_path, dagbag, monkeypatch
):
    import pendulum

    home = tmp_path / "home"
    shutil.copytree(zone, home)
    for name, value in env(home).items():
        monkeypatch.setenv(name, value)
    assert not dagbag.import_errors, dagbag.import_errors
    dag = dagbag.dags["kalido_report"]
    assert dag.doc_md and [t.task_id for t in dag.tasks] == ["report"]
    assert dag.timetable.summary == "0 6 1 * *", dag.timetable.summary
    task = dag.task_dict["report"]
    returned = task.python_callable(
        params={},
        data_interval_start=pendulum.datetime(2026, 11, 1, 6, tz="UTC"),
        data_interval_end=pendulum.datetime(2026, 12, 1, 6, tz="UTC"),
    )
    written = json.loads(json.dumps(returned))  # what Airflow keeps of it (XCom)
    assert written["out"] == str(out_dir(home, "2026-11-01", "2026-11-30"))
    document = json.loads((out_dir(home, "2026-11-01", "2026-11-30") / "report.json").read_text())
    assert document["period"]["from"] == "2026-11-01" and document["period"]["to"] == "2026-11-30"
