from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from kalido.config import Layout
from kalido.db import connect
from kalido.stores import raw_browsing
from tests.landing import Landing

KEY = "test-pseudonym-key-0123456789abcdef-0123456789"
ROOT = Path(__file__).resolve().parent.parent


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
