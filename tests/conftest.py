from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from kalido.config import Layout
from kalido.db import connect
from kalido.stores import raw_browsing
from tests.landing import Landing

KEY = "test-pseudonym-key-0123456789abcdef-0123456789"
ROOT = Path(__file__).resolve().parent.parent
# Airflow reads its configuration at its first import in this process (the dagbag fixture,
# kalido.orchestration): this repository's dags/, no examples and the local .airflow/, as
# `make test` exports them (never ~/airflow).
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty KALIDO_HOME with a valid key in the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KALIDO_HOME", str(home))
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("KALIDO_PSEUDONYM_KEY_VERSION", raising=False)
    return home


@pytest.fixture
def landing(home) -> Landing:
    return Landing(home)


@pytest.fixture(scope="session")
def dagbag():
    """Every DAG of dags/, parsed once in this process (no metadata database needed), for the
    tests of the DAGs' structure; `airflow dags test` runs them for real (tests/integration/)."""
    from airflow.models import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


@contextmanager
def kalido_env(home: Path, **more: str) -> Iterator[Path]:
    """KALIDO_HOME and the key in this process's environment for a block (session fixtures,
    which cannot use the function-scoped monkeypatch)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KALIDO_HOME", str(home))
        patch.setenv("KALIDO_PSEUDONYM_KEY", KEY)
        patch.delenv("KALIDO_PSEUDONYM_KEY_VERSION", raising=False)
        for name, value in more.items():
            patch.setenv(name, value)
        yield home


def copy_home(source: Path, tmp_path: Path, monkeypatch) -> Path:
    """A test's own copy of a home a shared fixture already ran, set as KALIDO_HOME (as `home`
    does): what the test writes or runs next never reaches the shared one."""
    home = tmp_path / "home"
    shutil.copytree(source, home, symlinks=True)
    monkeypatch.setenv("KALIDO_HOME", str(home))
    monkeypatch.setenv("KALIDO_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("KALIDO_PSEUDONYM_KEY_VERSION", raising=False)
    return home


class _LogText(logging.Handler):
    """Every record of this process as text, like caplog's (which is function-scoped)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(
            logging.Formatter("%(levelname)-8s %(name)s:%(filename)s:%(lineno)d %(message)s")
        )
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def captured_logs(level: int = logging.DEBUG) -> Iterator[_LogText]:
    """caplog.at_level(level) for a session fixture: the root logger at `level`, every record
    kept as text in `.lines`."""
    handler, root = _LogText(), logging.getLogger()
    handler.setLevel(level)
    saved = root.level
    root.setLevel(level)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


@dataclass(frozen=True)
class Night:
    """A home after the night(s) a shared fixture ran once for the session: read it, or copy it
    with copy_home before writing or running anything."""

    home: Path
    record: dict  # the run record of its last night
    logs: str = ""  # every log record of this process during that night, at DEBUG


def run_night(home: Path, day, after: Night | None = None, **env: str) -> Night:
    """Night `day` on `home` (a copy of `after`'s home when given), logs kept."""
    from kalido.pipelines.nightly import run_nightly

    if after is not None:
        shutil.copytree(after.home, home, symlinks=True)
    with kalido_env(home, **env), captured_logs() as logs:
        record = run_nightly(day)
    return Night(home, record, "\n".join(logs.lines))


# The gate scenario (tests/scenarios/gates/): night D, night D - 1, and D - 1 then D.


def _gate_zone(tmp_path_factory, name: str) -> Path:
    from tests.scenarios.gates import build_scenario

    home = tmp_path_factory.mktemp(name) / "home"
    build_scenario(Landing(home))
    return home


@pytest.fixture(scope="session")
def gate_night(tmp_path_factory) -> Night:
    from tests.scenarios.gates import D

    return run_night(_gate_zone(tmp_path_factory, "gate_night"), D)


@pytest.fixture(scope="session")
def gate_day_before(tmp_path_factory) -> Night:
    from tests.scenarios.gates import D

    return run_night(_gate_zone(tmp_path_factory, "gate_day_before"), D - timedelta(days=1))


@pytest.fixture(scope="session")
def gate_both(tmp_path_factory, gate_day_before) -> Night:
    from tests.scenarios.gates import D

    return run_night(tmp_path_factory.mktemp("gate_both") / "home", D, after=gate_day_before)


def kalido(*args: str, env: dict | None = None, check: bool = True):
    """Run the real `kalido` CLI in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "kalido.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kalido {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def query(db: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def query_raw(home: Path, sql: str, params=None) -> list[tuple]:
    """A query of the restricted raw store, raw browsing's files included (view raw_browsing)."""
    with connect(home / "restricted/raw.duckdb", read_only=True) as con:
        raw_browsing.open_view(con, Layout(home))
        return con.execute(sql, params).fetchall()


def warehouse_tables(db: Path) -> dict[str, list[tuple]]:
    """Every derived table's rows, in a stable order, for rerun comparisons."""
    tables = [
        "products",
        "views_recent",
        "interest_profiles",
        "product_similarity",
        "recommendations",
        "audience_daily",
    ]
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}


# --- running on several workers (pytest-xdist) ------------------------------------------------
# `make test` runs pytest -n auto --dist loadgroup --no-loadscope-reorder: each worker takes the
# next unit of work as it frees up, in collection order. A unit is one test, or every test of a
# group below, which goes to one worker whole so that the runs its tests share (module- or
# session-scoped fixtures) are built once. Tests outside a group each run one or more nights of
# their own, beside a session fixture that each worker builds at most once. The order: the
# longest units first (as measured with --durations on a 2-core machine), so that the workers
# finish together; then everything else as collected.
GROUPS = {
    # module (path under tests/) -> group
}
LONGEST_FIRST: list[str] = []


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items: list[pytest.Item]) -> None:
    for item in items:
        group = GROUPS.get(_module(item))
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
    rank = {module: n for n, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_module(item), len(rank)))
