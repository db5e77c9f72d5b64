"""The gate rules as a scenario: landing/ holds one customer per rule, expected.yaml who may be
profiled and who is mailed. Other tests (privacy, reruns, Airflow) run the same zone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kalido.pseudonyms import pseudonym
from tests.conftest import KEY, query
from tests.landing import Landing
from tests.scenarios import expected, lay_landing

FOLDER = Path(__file__).resolve().parent
EXPECTED = expected(FOLDER)
D: date = EXPECTED["date"]
ADULT: str = EXPECTED["adult_birth_date"]
CROWD: list[str] = EXPECTED["crowd"]
PROFILED = set(EXPECTED["profiled"])
NOT_PROFILED = set(EXPECTED["not_profiled"])
MAILED = {*EXPECTED["mailed"], *CROWD}


def pid(customer_id: str) -> str:
    return pseudonym(KEY.encode(), "customer", customer_id)


def build_scenario(landing: Landing) -> None:
    """The scenario's landing zone under landing.home."""
    lay_landing(FOLDER, landing.home)


def profiled_pids(home) -> set[str]:
    rows = query(
        home / "warehouse/analytics.duckdb", "select distinct user_pid from recommendations"
    )
    return {r[0] for r in rows}
