"""Operating the pipeline under hostile conditions: killed runs, two runs at once, a working
directory full of Python files, a rolled-back key, bad configuration, a full disk, a crash
between the feed and the warehouse."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from kalido.config import Layout, RunInProgress
from kalido.pipelines import nightly
from kalido.pipelines import publish as publishing
from kalido.stores import runs
from tests.conftest import KEY, query
from tests.integration.conftest import SMALL_DATE

DATE = "2026-11-24"
KALIDO = str(Path(sys.executable).with_name("kalido"))
OTHER_KEY = "another-pseudonym-key-fedcba9876543210-fedcba98"


def cli(home: Path, *args: str, env: dict | None = None, cwd: Path | None = None, **popen):
    """The installed `kalido` command (its own sys.path, as a user runs it) on `home`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KALIDO_")}
    environ.update({"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": KEY, **(env or {})})
    return subprocess.run(
        [KALIDO, *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd or home.parent,
        **popen,
    )


def start(home: Path, *args: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KALIDO_")}
    environ.update(KALIDO_HOME=str(home), KALIDO_PSEUDONYM_KEY=KEY)
    return subprocess.Popen(
        [KALIDO, *args],
        env=environ,
        cwd=home.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def generated(small_run) -> Path:
    """A small generated zone no run has read (tests/integration/conftest.py: small_run)."""
    assert DATE == SMALL_DATE
    return small_run.zone


@pytest.fixture
def published(small_run) -> Path:
    """The same zone after one successful run, once for the session (read it, or copy it with
    `ran`)."""
    assert small_run.result.returncode == 0, small_run.result.stderr
    return small_run.home


@pytest.fixture
def fresh(tmp_path, generated) -> Path:
    """A landing zone that no run has read yet."""
    return Path(shutil.copytree(generated, tmp_path / "home"))


@pytest.fixture
def ran(tmp_path, published) -> Path:
    return Path(shutil.copytree(published, tmp_path / "home"))


@pytest.fixture
def in_process(ran, monkeypatch) -> Path:
    """`ran`, configured for calls into the package from this process."""
    for name in [n for n in os.environ if n.startswith("KALIDO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KALIDO_HOME", str(ran))
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY", KEY)
    return ran


def tree(home: Path) -> dict[str, tuple]:
    """Every path under home with its size and modification time (the run lock's content
    aside: a run rewrites it when it takes the home, before it checks the key)."""
    if not home.is_dir():
        return {"": (home.stat().st_size, home.read_bytes())} if home.exists() else {}
    found = {}
    for path in [home, *home.rglob("*")]:
        if path.name == runs.LOCK_FILE:
            continue
        stat = path.stat()
        found[str(path.relative_to(home))] = (path.is_dir(), stat.st_size, stat.st_mtime_ns)
    return found


def records(home: Path) -> dict[str, dict]:
    return {r["run_id"]: r for r in runs.all_runs(Layout(home))}


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process, from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        found[int(entry)] = (int(ppid), state)
    return found


def descendants(pid: int) -> dict[int, int]:
    """The living descendants of pid, each with its depth (1: a child)."""
    table = processes()
    found, frontier, depth = {}, {pid}, 0
    while frontier:
        depth += 1
        frontier = {p for p, (ppid, state) in table.items() if ppid in frontier and state != "Z"}
        found.update(dict.fromkeys(frontier, depth))
    return found


def alive(pids) -> set[int]:
    table = processes()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def dead_pid() -> int:
    probe = subprocess.Popen(["true"])
    probe.wait()  # reaped: its pid names no process
    return probe.pid


# 1. Killed runs and two runs at once


def test_stage_processes_die_with_the_process_that_started_them(tmp_path):
    script = tmp_path / "sleeps_in_a_stage_process.py"
    script.write_text(
        "import time\nfrom kalido.db import in_fresh_process\nin_fresh_process(time.sleep, 120)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    try:
        # The fork server (a child) and the stage process it forked (a grandchild).
        found = wait_for(
            lambda: (d := descendants(parent.pid)) and max(d.values()) >= 2 and d,
            60,
            "a stage process",
        )
        parent.kill()
        parent.wait()
        wait_for(lambda: not alive(found), 5, f"processes {sorted(alive(found))} to die")
    finally:
        parent.kill()
        for pid in alive(locals().get("found", {})):
            os.kill(pid, signal.SIGKILL)


def test_a_second_run_on_the_same_home_is_refused_naming_the_first(fresh):
    first = start(fresh, "run", "--date", DATE)
    try:
        first_id = wait_for(lambda: list(records(fresh)), 60, "the first run's record")[0]
        refusal = f"kalido: another run is in progress: run {first_id} (pid {first.pid})"
        for command in (["run", "--date", DATE], ["purge", "--date", DATE], ["rotate-key"]):
            result = cli(fresh, *command, env={"KALIDO_PSEUDONYM_KEY_VERSION": "2"})
            assert result.returncode == 2, (command, result.stderr)
            assert one_line(result) == refusal
        assert list(records(fresh)) == [first_id]
    finally:
        first.kill()
        first.wait()


def test_a_killed_run_leaves_no_process_and_the_next_run_marks_it_abandoned(fresh):
    killed = start(fresh, "run", "--date", DATE)
    try:
        killed_id = wait_for(lambda: list(records(fresh)), 60, "the run's record")[0]
        found = wait_for(
            lambda: (d := descendants(killed.pid)) and max(d.values()) >= 2 and d,
            60,
            "a stage process",
        )
    finally:
        killed.kill()
        killed.wait()
    wait_for(lambda: not alive(found), 10, "the killed run's processes to die")
    assert records(fresh)[killed_id]["status"] == "running"

    result = cli(fresh, "run", "--date", DATE)
    assert result.returncode == 0, result.stderr
    after = records(fresh)
    assert after[killed_id]["status"] == "abandoned" and after[killed_id]["finished_at"]
    published = dict(
        query(fresh / "warehouse/analytics.duckdb", "select run_id, status from pipeline_runs")
    )
    assert published[killed_id] == "abandoned"
    assert sorted(published.values()) == ["abandoned", "success"]


def test_airflow_tasks_of_one_run_share_the_home_and_a_different_run_is_refused(tmp_path):
    layout = Layout(tmp_path)
    with runs.exclusive(layout, "cli__one"):
        with runs.shared(layout, "cli__one"):  # a stage process of that run
            pass
        with pytest.raises(RunInProgress, match="run cli__one"), runs.shared(layout, "manual__2"):
            pass
    with (
        runs.shared(layout, "manual__2"),
        runs.shared(layout, "manual__2"),  # two shard tasks side by side
        pytest.raises(RunInProgress, match="run manual__2"),
        runs.exclusive(layout, "p__3"),
    ):
        pass
    with runs.exclusive(layout, "p__3"):
        pass


# 2. The working directory


def test_stage_processes_import_nothing_from_the_working_directory(ran, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    marker = tmp_path / "imported"
    for name in ("concurrent.py", "kalido.py", "duckdb.py"):
        (cwd / name).write_text(f"open({str(marker)!r}, 'a').write({name!r})\n")
    result = cli(ran, "run", "--date", DATE, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), marker.read_text()


# 3. Key rotation


def test_a_key_rotation_cannot_be_undone_or_its_version_reused(ran):
    rotated = cli(
        ran,
        "rotate-key",
        env={"KALIDO_PSEUDONYM_KEY": OTHER_KEY, "KALIDO_PSEUDONYM_KEY_VERSION": "2"},
    )
    assert rotated.returncode == 0, rotated.stderr
    before = tree(ran)
    attempts = [
        ("run", KEY, "1", "older than the current key version 2"),
        ("rotate-key", KEY, "1", "older than the current key version 2"),
        ("run", KEY, "2", "differs from the key used for this key version"),
        ("rotate-key", OTHER_KEY, "2", "above the current version 2"),
    ]
    for command, key, version, message in attempts:
        args = [command, "--date", DATE] if command == "run" else [command]
        result = cli(
            ran, *args, env={"KALIDO_PSEUDONYM_KEY": key, "KALIDO_PSEUDONYM_KEY_VERSION": version}
        )
        assert result.returncode == 2, (command, version, result.stderr)
        assert message in one_line(result)
        assert tree(ran) == before, (command, version)


# 4. Configuration errors


def _drop_file_permission_override():
    """As root, write permission bits bind only without CAP_DAC_OVERRIDE (and its kin)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):  # dac_override, dac_read_search, fowner
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def _bad_policy(home: Path) -> dict:
    policy = home.parent / "policy.yaml"
    policy.write_text("business_timezone: Europe/Paris\nprofiling: [unclosed\n")
    return {"KALIDO_POLICY": str(policy)}


CONFIG_ERRORS = {
    "short suppression key": (lambda home: {"KALIDO_SUPPRESSION_KEY": "short"}, "SUPPRESSION"),
    "memory limit DuckDB cannot parse": (
        lambda home: {"KALIDO_DUCKDB_MEMORY_LIMIT": "lots"},
        "MEMORY_LIMIT",
    ),
    "missing policy file": (
        lambda home: {"KALIDO_POLICY": str(home.parent / "nowhere.yaml")},
        "KALIDO_POLICY",
    ),
    "invalid policy file": (_bad_policy, "policy"),
}


@pytest.mark.parametrize("case", list(CONFIG_ERRORS))
def test_a_configuration_error_exits_2_with_one_line_before_anything_is_written(case, fresh):
    environment, message = CONFIG_ERRORS[case]
    env = environment(fresh)
    before = tree(fresh)
    result = cli(fresh, "run", "--date", DATE, env=env)
    assert result.returncode == 2, result.stderr
    assert message in one_line(result)
    assert tree(fresh) == before


@pytest.mark.parametrize(
    "command", [["run", "--date", DATE], ["purge", "--date", DATE], ["rotate-key"]]
)
def test_only_demo_and_generate_create_a_home(command, tmp_path):
    home = tmp_path / "absent"
    result = cli(home, *command)
    assert result.returncode == 2, result.stderr
    assert "does not exist" in one_line(result)
    assert not home.exists()


def test_a_home_that_is_a_file_is_refused(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a directory")
    result = cli(home, "run", "--date", DATE)
    assert result.returncode == 2, result.stderr
    assert "is not a directory" in one_line(result)
    assert home.read_text() == "not a directory"


def test_a_read_only_home_is_refused_before_anything_is_written(fresh):
    before = tree(fresh)
    fresh.chmod(0o555)
    try:
        result = cli(
            fresh,
            "run",
            "--date",
            DATE,
            preexec_fn=_drop_file_permission_override if os.geteuid() == 0 else None,
        )
    finally:
        fresh.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert "is not writable" in one_line(result)
    assert tree(fresh) == before


# 5. A full disk


def test_a_publish_that_fails_leaves_no_draft_and_the_run_recorded_failed(in_process, monkeypatch):
    home = in_process
    warehouse, feeds = home / "warehouse", home / "exports/email_recommendations"
    gone = dead_pid()
    for leftover in (f".analytics.duckdb.{gone}.tmp", f".analytics.duckdb.{gone}.tmp.wal"):
        (warehouse / leftover).write_bytes(b"left by a process that ran out of disk")
    (feeds / f".dt={DATE}.{gone}.tmp").mkdir()
    old_feed = (feeds / f"dt={DATE}/manifest.json").read_bytes()
    old_warehouse = (warehouse / "analytics.duckdb").stat().st_mtime_ns

    def disk_full(*args, **kwargs):
        assert list(warehouse.glob(".analytics.duckdb.*.tmp")), "the draft is being written"
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(publishing, "_insert_runs", disk_full)
    run_id = "cli__2026-11-24__disk_full"
    with pytest.raises(OSError) as failure:
        nightly.run_stage("publish", date.fromisoformat(DATE), run_id, force=True)
    # What the CLI's loop and the DAG's failure callback do with it.
    nightly.record_failure(date.fromisoformat(DATE), run_id, "publish", failure.value)

    assert sorted(p.name for p in warehouse.iterdir()) == ["analytics.duckdb"]
    assert (warehouse / "analytics.duckdb").stat().st_mtime_ns == old_warehouse
    assert sorted(p.name for p in feeds.iterdir()) == ["LATEST", f"dt={DATE}"]
    assert (feeds / f"dt={DATE}/manifest.json").read_bytes() == old_feed  # no new feed alone
    record = records(home)[run_id]
    assert record["status"] == "failed" and record["error"] == "publish: OSError"
    assert "published" not in record
    trace = home / "restricted/logs" / f"{runs.file_stem(run_id)}.traceback.txt"
    assert "No space left on device" in trace.read_text()


def test_a_traceback_that_cannot_be_written_leaves_no_empty_file(home):
    code = f"""
import resource, signal
from datetime import date
from kalido.config import Layout
from kalido.pipelines import nightly
from kalido.stores import runs
runs.start_run(Layout(__import__("pathlib").Path({str(home)!r})), "cli__full", date(2026, 11, 24))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # every write now fails, as on a full disk
try:
    raise OSError(28, "No space left on device")
except OSError as exc:
    nightly.record_failure(date(2026, 11, 24), "cli__full", "publish", exc)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not list((home / "restricted").rglob("*.traceback.txt"))
    assert not list(home.rglob("*.tmp"))
    # Nothing could be recorded: the record stays running until the next run abandons it.
    assert records(home)["cli__full"]["status"] == "running"


# 6. Publication order


def test_the_feed_and_the_warehouse_name_the_run_that_published_them(published, ran):
    (run_id,) = records(published)
    record = records(published)[run_id]
    manifest = json.loads(
        (published / f"exports/email_recommendations/dt={DATE}/manifest.json").read_text()
    )
    assert manifest["run_id"] == run_id and manifest["logical_date"] == DATE
    assert {"generated_at", "rows", "recipients", "sha256"} <= set(manifest)
    warehouse = published / "warehouse/analytics.duckdb"
    assert query(warehouse, "select run_id, status from pipeline_runs") == [(run_id, "success")]
    assert record["feed_run_id"] == run_id
    # In publication order (publish.publish): the feed, then the ad server's export, then the
    # warehouse, which says its run succeeded only once that run's feed is out.
    assert [p["output"] for p in record["published"]] == ["email_feed", "ad_export", "warehouse"]
    assert [p["at"] for p in record["published"]] == sorted(p["at"] for p in record["published"])
    # A rerun with nothing new publishes only pipeline_runs: the feed in place is the first run's.
    result = cli(ran, "run", "--date", DATE)
    assert result.returncode == 0, result.stderr
    (rerun,) = [r for r in records(ran).values() if r["run_id"] != run_id]
    assert rerun["unchanged_since"] == run_id and rerun["feed_run_id"] == run_id
    assert [p["output"] for p in rerun["published"]] == ["warehouse"]
