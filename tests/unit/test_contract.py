"""The landing contract is written once (kalido/contract.yaml): the suites and the code read it."""

from __future__ import annotations

import ast
import json
from datetime import date
from pathlib import Path

import pytest

from kalido.contract import EVENT_TYPES, SOURCES
from kalido.pipelines.validate import _parameters
from kalido.policy import DEFAULT_POLICY_PATH, load_policy
from kalido.quality import EXPECTATIONS_DIR, load_settings


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_each_landing_suite_takes_its_columns_and_closed_values_from_the_contract(source):
    suite = json.loads((EXPECTATIONS_DIR / "landing" / f"{source}.json").read_text())
    spec = SOURCES[source]
    by_type = {}
    for expectation in suite["expectations"]:
        by_type.setdefault(expectation["type"], []).append(expectation["kwargs"])
    (columns,) = by_type["expect_table_columns_to_match_set"]
    assert columns["column_set"] == {"$PARAMETER": f"{source}_columns"}
    closed = {c.name for c in spec.fields if c.values}
    in_set = {
        k["column"]: k["value_set"] for k in by_type.get("expect_column_values_to_be_in_set", [])
    }
    for column in closed & set(in_set):
        # Purposes are the policy's (it must know every purpose the contract names, below).
        name = "purposes" if column == "purpose" else f"{source}_{column}_values"
        assert in_set[column] == {"$PARAMETER": name}, column
    # A literal list in a suite may only hold values the contract leaves open (currency, country).
    assert not any(isinstance(v, list) for c, v in in_set.items() if c in closed)


def test_the_suites_parameters_are_the_contract():
    parameters = _parameters(load_policy(DEFAULT_POLICY_PATH), load_settings(), date(2026, 11, 24))
    assert parameters["orders_columns"][:2] == ["order_id", "line_no"]
    assert parameters["browsing_event_type_values"] == list(EVENT_TYPES)
    assert set(parameters["orders_status_values"]) >= {"cancelled", "returned"}
    assert set(parameters["purposes"]) == set(SOURCES["consents"].values("purpose"))


def test_every_key_and_required_column_is_a_contract_column():
    for spec in SOURCES.values():
        assert set(spec.required) <= set(spec.columns), spec.name
        assert set(spec.key) - {"_partition_date"} <= set(spec.columns), spec.name


def test_no_module_spells_a_sources_columns_out_again():
    # Ingest, validate, the generator and the test landing zones import them from kalido.contract.
    lists = {spec.columns for spec in SOURCES.values()}
    root = Path(__file__).resolve().parents[2]
    for path in [*root.joinpath("kalido").rglob("*.py"), *root.joinpath("tests").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.List) and len(node.elts) > 4:
                values = tuple(getattr(e, "value", None) for e in node.elts)
                assert values not in lists, f"{path.name}:{node.lineno}"
