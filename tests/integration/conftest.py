"""Full runs that several integration tests read, each run once per session."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import KEY, ScenarioNights, kalido

# The data-subject request zone (test_dsr.build_zone: C_GONE erases on D, C_OBJ objects, C_RESTR
# restricts, C_ACC asks for access).
erasure_night, erasure_day_before, erasure_both = ScenarioNights(
    "erasure", "tests.integration.test_dsr", "build_zone"
).fixtures()


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
