"""Scenarios as data: each folder tests/scenarios/<rule>/ holds a rule's input, a landing zone laid
out as KALIDO_HOME/landing/ (landing/), what the rule must give (expected.yaml), and the test that
runs one on the other. A scenario is read here, never written by a test."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def expected(folder: Path) -> dict:
    """The scenario's expected.yaml."""
    return yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8"))


def lay_landing(folder: Path, home: Path) -> None:
    """Copy the scenario's landing zone into home/landing/ (files keep their names and bytes)."""
    shutil.copytree(folder / "landing", home / "landing", dirs_exist_ok=True)
