"""One import direction: entry points → pipelines → stores → features → core.

The core is the top of kalido/ (configuration, policy, contract, stage list, DuckDB helpers,
pseudonyms, quality); kalido/features/ the maths without I/O; kalido/stores/ what the stages
share; kalido/pipelines/ one module per stage, of which only the runner (nightly.py) imports
the others; the entry points (cli, orchestration, tools, dags) may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"core": 0, "features": 1, "stores": 2, "pipelines": 3, "entry": 4}
ENTRY_MODULES = {"kalido.cli", "kalido.orchestration"}
RUNNER = "kalido.pipelines.nightly"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "dags" or module in ENTRY_MODULES or parts[1:2] == ["tools"]:
        return "entry"
    if len(parts) > 2 and parts[1] in LAYERS:
        return parts[1]
    if len(parts) == 2 and parts[1] in ("features", "stores", "pipelines"):
        return parts[1]
    return "core"


def _imports(path: Path, modules: set[str]):
    """The kalido modules `path` imports (lazily inside functions too), with their line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [(node.module, node.lineno)]
            # `from kalido.stores import runs` imports the module kalido.stores.runs
            names += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
        else:
            continue
        for name, line in names:
            if name in modules:
                yield name, line


def _sources() -> list[Path]:
    return sorted([*ROOT.joinpath("kalido").rglob("*.py"), *ROOT.joinpath("dags").glob("*.py")])


def test_every_import_runs_down_the_layers():
    paths = _sources()
    modules = {_module(p) for p in paths}
    wrong = []
    for path in paths:
        importer = _module(path)
        for imported, line in _imports(path, modules):
            if LAYERS[_layer(imported)] > LAYERS[_layer(importer)]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} {importer} -> {imported}")
    assert not wrong, "\n".join(wrong)


def test_only_the_runner_imports_other_stages():
    paths = [p for p in _sources() if _layer(_module(p)) == "pipelines"]
    modules = {_module(p) for p in paths} - {"kalido.pipelines"}
    wrong = [
        f"{path.relative_to(ROOT)}:{line} -> {imported}"
        for path in paths
        if _module(path) != RUNNER
        for imported, line in _imports(path, modules)
        if imported != _module(path)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_layer_rule_sees_an_import_that_runs_up(tmp_path):
    # The checker itself: a store importing a pipeline is caught.
    assert _layer("kalido.stores.runs") == "stores"
    assert _layer("kalido.pipelines.ingest") == "pipelines"
    assert _layer("kalido.features.recommender") == "features"
    assert _layer("kalido.db") == "core" and _layer("kalido.tools.bench") == "entry"
    bad = tmp_path / "bad.py"
    bad.write_text("from kalido.pipelines import ingest\n")
    assert list(_imports(bad, {"kalido.pipelines.ingest"})) == [("kalido.pipelines.ingest", 1)]


def test_each_stage_is_a_module_and_a_folder_of_sql_named_like_it():
    from kalido.stages import NIGHTLY

    # The two request stages are one module and one folder, named for what they serve.
    requests = {"subject_access": "requests", "check_requests": "requests"}
    for stage in NIGHTLY:
        name = requests.get(stage, stage)
        assert (ROOT / "kalido" / "pipelines" / f"{name}.py").is_file(), stage
        assert any((ROOT / "sql" / name).glob("*.sql")), f"no sql/{name}/ for {stage}"


def test_each_published_table_has_its_folder_with_statement_and_descriptions():
    from kalido.warehouse import load_descriptions, table_names

    tables = table_names()
    assert {"people", "recommendations", "views_recent"} <= set(tables)
    assert set(load_descriptions()) == set(tables)
    for table in tables:
        folder = ROOT / "tables" / table
        # A suite checks the rows of its batch: neither comes without the other.
        assert (folder / "suite.json").is_file() == (folder / "batch.sql").is_file(), table
