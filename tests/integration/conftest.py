"""Full runs that several integration tests read, each run once per session."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import KEY, Night, kalido, run_night
from tests.landing import Landing

# The data-subject request zone (test_dsr.build_zone: C_GONE erases on D, C_OBJ objects, C_RESTR
# restricts, C_ACC asks for access): night D, night D - 1, and D - 1 then D.


def _erasure_zone(tmp_path_factory, name: str) -> Path:
    from tests.integration.test_dsr import build_zone

    home = tmp_path_factory.mktemp(name) / "home"
    build_zone(Landing(home))
    return home


@pytest.fixture(scope="session")
def erasure_night(tmp_path_factory) -> Night:
    from tests.integration.test_dsr import D

    return run_night(_erasure_zone(tmp_path_factory, "erasure_night"), D)


@pytest.fixture(scope="session")
def erasure_day_before(tmp_path_factory) -> Night:
    from tests.integration.test_dsr import D

    return run_night(_erasure_zone(tmp_path_factory, "erasure_day_before"), D - timedelta(days=1))


@pytest.fixture(scope="session")
def erasure_both(tmp_path_factory, erasure_day_before) -> Night:
    from tests.integration.test_dsr import D

    home = tmp_path_factory.mktemp("erasure_both") / "home"
    return run_night(home, D, after=erasure_day_before)


SMALL_DATE = "2026-11-24"


@dataclass(frozen=True)
class SmallRun:
    """A small generated zone (2 days, 60 users, 40 products, ending on SMALL_DATE) and the same
    after one `kalido -v run --date SMALL_DATE --json` (non-TTY: plain progress), for the tests
    of the command and of its operation. Copy before writing or running."""

    zone: Path  # the landing zone no run has read yet
    home: Path  # after the run
    result: subprocess.CompletedProcess  # the run's exit status, stdout and stderr


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> SmallRun:
    root = tmp_path_factory.mktemp("small_run")
    zone, home = root / "zone", root / "home"
    kalido(
        *("generate", "--days", "2", "--users", "60", "--products", "40"),
        *("--end-date", SMALL_DATE, "--out", str(zone)),
    )
    shutil.copytree(zone, home, symlinks=True)
    env = {"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": KEY}
    result = kalido("-v", "run", "--date", SMALL_DATE, "--json", env=env)
    return SmallRun(zone, home, result)


@pytest.fixture(scope="session")
def generated_day_before(tmp_path_factory) -> Path:
    """`kalido generate --days 4 --users 200 --products 80` (ending 2026-11-24) after one
    `kalido run --date 2026-11-23`: the first night of test_warehouse_docs and
    test_feed_contract, which copy it and go on."""
    home = tmp_path_factory.mktemp("generated_day_before") / "home"
    kalido("generate", "--days", "4", "--users", "200", "--products", "80", "--out", str(home))
    kalido(
        "run", "--date", "2026-11-23", env={"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": KEY}
    )
    return home
