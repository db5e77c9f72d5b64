"""The `kalido` command as a person at a terminal (or a script) uses it: help, version, usage
errors, live progress, -v inside the stage processes, JSON output, the run list and feed links.
One pipeline run serves every test that needs one."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from kalido import stages
from kalido.cli import main
from tests.conftest import KEY, ROOT, kalido
from tests.integration.conftest import SMALL_DATE

DATE = "2026-11-24"
# Read by kalido but not for its users: the fork server's parent (lifeline.py) and a bench's log.
INTERNAL_VARIABLES = {"KALIDO_FORKSERVER_PARENT", "KALIDO_BENCH_STATEMENTS_LOG"}
PROGRESS_LINE = re.compile(r"^  (?P<stage>\S+(?: \d+-of-\d+)?)\s+(?P<seconds>\d+\.\d) s\b")
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAKALIDOTESTFAKE01",
    "AWS_SECRET_ACCESS_KEY": "kalido-test-fake-secret-0123456789abcdef",
    "AWS_DEFAULT_REGION": "eu-west-3",
    # Nothing but the variables above: no profile file, no instance-metadata lookup.
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def env(home: Path, **more: str) -> dict:
    return {"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": KEY, **more}


@pytest.fixture
def ran(small_run):
    """A small generated zone after one `kalido -v run --json` (non-TTY: plain progress), run
    once for the session (tests/integration/conftest.py: small_run)."""
    assert DATE == SMALL_DATE
    return small_run.home, small_run.result


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"kalido {version('kalido')}\n"


def test_help_lists_every_environment_variable_and_the_exit_statuses():
    read = {
        name
        for path in (ROOT / "kalido").rglob("*.py")
        for name in re.findall(r"\bKALIDO_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8"))
    }
    assert {"KALIDO_HOME", "KALIDO_PSEUDONYM_KEY", "KALIDO_LOG_LEVEL"} <= read
    shown = kalido("--help").stdout
    for name in read - INTERNAL_VARIABLES:
        assert name in shown, name
    for status in ("0  success", "1  a failed run", "2  a usage or configuration error"):
        assert status in shown
    assert "--compact" in kalido("purge", "--help").stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["run"],
        ["run", "--date", "2026-13-01"],
        ["run", "--date", DATE, "--shards", "0"],
        ["no-such-command"],
        ["feed-url", "--expires", "8d"],
        ["--no-such-option", "runs"],
    ],
)
def test_a_usage_error_exits_2(argv, home):
    assert main(argv) == 2


def test_a_bad_log_level_is_a_configuration_error(home, monkeypatch, capsys):
    monkeypatch.setenv("KALIDO_LOG_LEVEL", "LOUD")
    assert main(["runs"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "kalido: configuration error: KALIDO_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or "
        "CRITICAL"
    ]


def test_run_json_is_the_run_record_with_every_stage(ran):
    _, result = ran
    record = json.loads(result.stdout)  # the whole of stdout: one document
    assert record["status"] == "success" and record["logical_date"] == DATE
    assert set(record["stages"]) == set(stages.NIGHTLY)


def test_progress_is_one_plain_line_per_stage_as_it_finishes(ran):
    _, result = ran
    finished = [m["stage"] for m in map(PROGRESS_LINE.match, result.stderr.splitlines()) if m]
    assert finished == list(stages.NIGHTLY)
    ingest = next(line for line in result.stderr.splitlines() if line.startswith("  ingest "))
    rows_read = json.loads(result.stdout)["stages"]["ingest"]["rows_read"]
    assert rows_read > 0 and f"rows read {rows_read}," in ingest
    assert "\x1b[" not in result.stderr  # no terminal codes in a pipe


def test_verbose_shows_the_log_lines_of_the_stage_processes(ran):
    home, result = ran
    # Ingest runs in a forked stage process (db.in_fresh_process), which -v reaches too.
    ingested = [line for line in result.stderr.splitlines() if "kalido.pipelines.ingest:" in line]
    assert ingested and all(" INFO " in line for line in ingested)
    assert any("ingested customers/dt=" in line for line in ingested)


def test_runs_lists_the_run_with_status_duration_and_counts(ran):
    home, result = ran
    record = json.loads(result.stdout)
    listed = kalido("runs", env=env(home)).stdout.splitlines()
    assert listed[0].split()[:4] == ["run", "date", "status", "duration"]
    row = listed[1].split()
    assert row[:3] == [record["run_id"], DATE, "success"]
    assert re.fullmatch(r"\d+", row[3]) and row[4] == "s"
    publish = record["stages"]["publish"]
    assert row[5:8] == [
        str(record["stages"]["ingest"]["rows_read"]),
        str(publish["feed_rows"]),
        str(publish["feed_recipients"]),
    ]
    as_json = json.loads(kalido("runs", "--json", env=env(home)).stdout)
    assert [r["run_id"] for r in as_json] == [record["run_id"]]
    assert as_json[0]["stages"] == record["stages"]


def test_runs_of_a_home_that_does_not_exist_exit_2_in_one_line(tmp_path):
    result = kalido("runs", env=env(tmp_path / "nowhere"), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "does not exist" in result.stderr and not result.stdout


def test_feed_url_on_a_store_without_signing_exits_2_in_one_line(ran, tmp_path):
    home, _ = ran
    bucket = f"file://{tmp_path / 'bucket'}"
    result = kalido("feed-url", env=env(home, KALIDO_EXPORT_URL=bucket), check=False)
    assert result.returncode == 2 and not result.stdout
    assert result.stderr.strip().splitlines() == [
        "kalido: feed-url: the file:// store cannot sign URLs (KALIDO_EXPORT_URL must be a "
        "cloud store: s3://, gs:// or abfs://)"
    ]


def test_feed_url_signs_the_latest_feed_on_s3_offline(ran):
    home, _ = ran
    latest = (home / "exports/email_recommendations/LATEST").read_text().strip()
    result = kalido(
        "feed-url",
        "--expires",
        "1h",
        env=env(home, KALIDO_EXPORT_URL="s3://kalido-feeds/nightly", **FAKE_AWS),
    )
    first, *lines = result.stdout.strip().splitlines()
    assert first.startswith(f"feed {latest} ")
    links = dict(line.split("\t") for line in lines)
    assert list(links)[0] == "recommendations.csv" and list(links)[-1] == "manifest.json"
    for name, link in links.items():
        url = urlsplit(link)
        query = parse_qs(url.query)
        assert url.scheme == "https" and url.hostname.endswith(".amazonaws.com")
        bucket_and_path = f"{url.hostname.split('.s3')[0]}{unquote(url.path)}"
        assert bucket_and_path.endswith(
            f"kalido-feeds/nightly/email_recommendations/dt={latest}/{name}"
        )
        assert query["X-Amz-Expires"] == ["3600"]
        assert query["X-Amz-Credential"][0].startswith(FAKE_AWS["AWS_ACCESS_KEY_ID"] + "/")
        assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"][0])
    assert FAKE_AWS["AWS_SECRET_ACCESS_KEY"] not in result.stdout + result.stderr


def test_purge_compact_json_is_the_purge_record(ran, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(ran[0], home)
    result = kalido("purge", "--date", DATE, "--compact", "--json", env=env(home))
    record = json.loads(result.stdout)
    assert record["run_id"].startswith("purge__") and record["status"] == "success"
    assert record["stages"]["purge"]["compacted"] is True  # --compact reached run_purge
