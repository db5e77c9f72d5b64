from __future__ import annotations

import importlib
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

from kalido import db
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
# A test process runs dozens of nights in-process, each with its validate stage forked from the
# same fork server: importing Great Expectations there once spares each night its import (about
# 10 s). A `kalido run` imports it once either way, so the package itself does not preload it.
db.FORKSERVER_PRELOAD.append("great_expectations")


@pytest.fixture(autouse=True)
def _kalido_logging_restored(monkeypatch):
    """Each test leaves kalido's log level as it found it: `kalido.cli.main` called in this
    process sets the level of the `kalido` logger and KALIDO_LOG_LEVEL (for its stage processes),
    as the command does, which would silence INFO for whichever test came next on the worker."""
    if "KALIDO_LOG_LEVEL" in os.environ:  # recorded as it is, put back after the test
        monkeypatch.setenv("KALIDO_LOG_LEVEL", os.environ["KALIDO_LOG_LEVEL"])
    else:
        monkeypatch.delenv("KALIDO_LOG_LEVEL", raising=False)
    logger = logging.getLogger("kalido")
    level = logger.level
    yield
    logger.setLevel(level)


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


@dataclass(frozen=True)
class ScenarioNights:
    """Night D, night D - 1, and D - 1 then D of one scenario zone (`module`.`builder` writes it,
    `module`.D is its date), for session fixtures. The module is imported when a night runs."""

    name: str
    module: str
    builder: str

    def _scenario(self):
        return importlib.import_module(self.module)

    def _zone(self, tmp_path_factory, label: str) -> Path:
        home = tmp_path_factory.mktemp(f"{self.name}_{label}") / "home"
        getattr(self._scenario(), self.builder)(Landing(home))
        return home

    def fixtures(self) -> tuple:
        """The session fixtures <name>_night, <name>_day_before and <name>_both."""

        def night(tmp_path_factory) -> Night:
            return run_night(self._zone(tmp_path_factory, "night"), self._scenario().D)

        def day_before(tmp_path_factory) -> Night:
            day = self._scenario().D - timedelta(days=1)
            return run_night(self._zone(tmp_path_factory, "day_before"), day)

        def both(tmp_path_factory, request) -> Night:
            home = tmp_path_factory.mktemp(f"{self.name}_both") / "home"
            before = request.getfixturevalue(f"{self.name}_day_before")
            return run_night(home, self._scenario().D, after=before)

        return tuple(
            pytest.fixture(scope="session", name=f"{self.name}_{build.__name__}")(build)
            for build in (night, day_before, both)
        )


gate_night, gate_day_before, gate_both = ScenarioNights(
    "gate", "tests.scenarios.gates", "build_scenario"
).fixtures()


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
# group (xdist_group): the tests that read the same shared runs go to one worker, which builds
# those runs once. A test is grouped by the first shared fixture of SHARED it uses, else by its
# module when that module shares a module-scoped run (MODULES). Units go longest first (as
# measured with --durations on a 2-core machine) so that the workers finish together.
SHARED = {  # session fixture -> group
    "gate_night": "gate_night",
    "gate_both": "gate_both",
    "gate_day_before": "gate_both",
    "erasure_night": "erasure_night",
    "erasure_both": "erasure_both",
    "erasure_day_before": "erasure_both",
    "small_run": "small_run",
    "generated_day_before": "generated_day_before",
}
MODULES = {  # modules whose tests share module-scoped runs (or generated zones)
    "tests/integration/test_ad_profiling.py",
    "tests/integration/test_generated_zone_end_to_end.py",
    "tests/integration/test_recommendation_quality.py",
    "tests/integration/test_report.py",
    "tests/integration/test_shards.py",
    "tests/unit/test_generate.py",
}
LONGEST_FIRST = [  # groups and modules
    "gate_both",
    "erasure_both",
    "tests/integration/test_recommendation_quality.py",
    "generated_day_before",
    "tests/integration/test_shards.py",
    "small_run",
    "gate_night",
    "tests/integration/test_report.py",
    "tests/integration/test_dsr.py",
    "erasure_night",
    "tests/integration/test_bad_input_properties.py",
    "tests/integration/test_generated_zone_end_to_end.py",
    "tests/integration/test_evaluation.py",
    "tests/integration/test_bad_input_night.py",
    "tests/integration/test_ad_profiling.py",
    "tests/integration/test_quality.py",
    "tests/integration/test_importers.py",
    "tests/integration/test_objectstore.py",
    "tests/integration/test_airflow.py",
]


def _group(item: pytest.Item) -> str | None:
    for fixture, group in SHARED.items():
        if fixture in item.fixturenames:
            return group
    module = item.nodeid.split("::", 1)[0]
    return module if module in MODULES else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items: list[pytest.Item]) -> None:
    groups = {}
    for item in items:
        group = groups[item.nodeid] = _group(item)
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}

    def order(item: pytest.Item) -> int:
        module = item.nodeid.split("::", 1)[0]
        return min(rank.get(groups[item.nodeid], len(rank)), rank.get(module, len(rank)))

    items.sort(key=order)
