"""The README and docs/ name what exists: a README a newcomer reads in minutes that starts with the
set-up, a stage table whose modules, SQL folders, tables and suites are real, every command,
make target and environment variable documented, links that resolve, and no commit hashes or
issue numbers standing in for the facts."""

from __future__ import annotations

import re

import pytest
import typer

from kalido import stages
from kalido.cli import ENVIRONMENT, app
from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
EXPECTATIONS = ROOT / "expectations"
TICKED = re.compile(r"`([^`]+)`")
SOURCES = {"customers", "consents", "browsing", "orders", "products", "requests"}


def _text(path):
    return path.read_text(encoding="utf-8")


def _all_docs() -> str:
    return "\n".join(_text(p) for p in [README, *DOCS])


def _stage_rows() -> dict[str, list[str]]:
    """The README's stage table: stage name -> its cells (module, SQL, writes, suites)."""
    rows = {}
    for line in _text(README).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in stages.NIGHTLY:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_readme_is_short_and_starts_with_the_set_up():
    lines = _text(README).splitlines()
    assert len(lines) <= 200
    sections = [line for line in lines if line.startswith("## ")]
    assert sections[0].startswith("## Set-up on a fresh machine")
    first = _text(README).split(sections[1])[0]
    assert "make demo" in first and "make test" in first and "Python 3.11" in first


def test_every_stage_has_a_row_in_the_readme_flow_table():
    assert list(_stage_rows()) == list(stages.NIGHTLY)


@pytest.mark.parametrize("stage", stages.NIGHTLY)
def test_a_stage_row_names_modules_and_sql_folders_that_exist(stage):
    module, sql, _, _ = _stage_rows()[stage]
    for path in TICKED.findall(module) + TICKED.findall(sql):
        # `tables/<table>/batch.sql` names a file of every table folder that has one.
        assert list(ROOT.glob(re.sub(r"<\w+>", "*", path))), f"{stage}: {path} does not exist"
    if (ROOT / "sql" / stage).is_dir():
        assert f"`sql/{stage}/`" in sql, f"{stage}: its sql/{stage}/ folder is not named"


@pytest.mark.parametrize("stage", stages.NIGHTLY)
def test_a_stage_row_names_tables_the_code_builds(stage):
    _, _, writes, _ = _stage_rows()[stage]
    code = "\n".join(_text(p) for p in [*ROOT.glob("sql/**/*.sql"), *ROOT.glob("kalido/**/*.py")])
    for name in TICKED.findall(writes):
        if "/" not in name and name != "...":
            assert re.search(rf"\b{re.escape(name)}\b", code), f"{stage}: no code builds {name}"


def test_every_expectation_suite_is_named_beside_its_stage():
    suites = " ".join(cells[3] for cells in _stage_rows().values())
    named = set(TICKED.findall(suites))
    for path in named:
        if path.endswith(".json"):
            assert list(EXPECTATIONS.glob(path.replace("<source>", "*"))), f"no suite {path}"
    for suite in EXPECTATIONS.glob("*/*.json"):
        relative = suite.relative_to(EXPECTATIONS).as_posix()
        pattern = f"{suite.parent.name}/<source>.json"
        source = suite.stem in SOURCES
        assert relative in named or (source and pattern in named), f"{relative} is not in README"
    for suite in (ROOT / "tables").glob("*/suite.json"):
        assert f"tables/{suite.parent.name}/" in named, (
            f"{suite.parent.name}'s suite is not in README"
        )


def test_every_kalido_command_is_in_the_readme():
    commands = typer.main.get_command(app).commands
    readme = _text(README)
    for name in commands:
        assert f"`kalido {name}" in readme, f"kalido {name} is not in the README's commands"


def test_every_environment_variable_is_in_the_readme():
    readme = _text(README)
    for variable in ENVIRONMENT:
        assert f"`{variable}`" in readme, f"{variable} is not in the README's configuration"


def test_every_make_target_is_documented():
    makefile = _text(ROOT / "Makefile")
    targets = re.findall(r"^([a-z][a-z-]*):.*## ", makefile, flags=re.MULTILINE)
    assert "demo" in targets and "lint" in targets
    docs = _all_docs()
    for target in targets:
        assert re.search(rf"`make {re.escape(target)}\b", docs), f"make {target} is undocumented"


def test_relative_links_resolve():
    for path in [README, *DOCS]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _text(path)):
            if "://" not in target:
                assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_docs_state_facts_not_commit_hashes_or_issue_numbers():
    for path in [README, *DOCS]:
        text = _text(path)
        hashes = [
            word
            for word in re.findall(r"\b[0-9a-f]{7,12}\b", text)
            if re.search(r"[a-f]", word) and re.search(r"[0-9]", word)
        ]
        assert not hashes, f"{path.name} cites commits {hashes}"
        issues = re.findall(r"\b(?:issue|issues|PR)\s*#?\d+|#\d+\b", text, flags=re.IGNORECASE)
        assert not issues, f"{path.name} cites {issues}"


def test_paths_in_docs_are_the_current_ones():
    # SQL is at the top level and the tools live in kalido/tools/.
    stale = re.compile(
        r"kalido/sql/|kalido\.(generate|evaluation|importers|bench|bench_recs|airflow_local"
        r"|synthetic_retailrocket)\b|kalido/(generate|evaluation|importers|bench|bench_recs"
        r"|airflow_local|synthetic_retailrocket)\.py"
    )
    for path in [README, *DOCS]:
        found = stale.search(_text(path))
        assert not found, f"{path.name} names the old path {found.group(0)}"
