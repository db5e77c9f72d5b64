"""Great Expectations suites from expectations/: settings, loading, running, Data Docs.

The suites are GE 1.x JSON files kept in the repository; values that depend on the run (the
logical date's window, policy numbers, PII patterns) are `$PARAMETER`s filled in here. Results
never carry unexpected values: landing suites (raw personal data) report counts only, output
suites report the pseudonymous key columns of offending rows (`index_columns` in the suite meta).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from kalido.config import PROJECT_ROOT, ConfigError

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
LAYERS = ("landing", "warehouse", "exports")
SEVERITIES = ("critical", "warning")
SAMPLE_SIZE = 5  # offending keys quoted in a message
KEPT_KEYS = 20  # offending keys kept per expectation in the stored results


@dataclass(frozen=True)
class QualitySettings:
    volume_factor: float
    volume_baseline_days: int
    volume_min_baseline_days: int
    volume_sources: tuple[str, ...]
    records_days_before: int
    events_days_before: int
    birth_years_before: int
    hours_after: int
    max_quarantined_share: float
    min_in_stock_share: float
    category_path_regex: str
    pii_patterns: MappingProxyType
    max_rows_per_batch: int
    default_severity: MappingProxyType
    severity_overrides: MappingProxyType  # "suite/expectation" -> severity

    def __post_init__(self) -> None:
        if not self.volume_factor > 1:
            raise ConfigError("expectations settings: volume.factor must be greater than 1")
        if not 0 <= self.max_quarantined_share <= 1 or not 0 <= self.min_in_stock_share <= 1:
            raise ConfigError("expectations settings: shares must lie between 0 and 1")
        if self.max_rows_per_batch < 1:
            raise ConfigError("expectations settings: sampling.max_rows_per_batch must be >= 1")
        if set(self.default_severity) != set(LAYERS):
            raise ConfigError("expectations settings: severity.default needs every layer")
        if not set(self.default_severity.values()) | set(self.severity_overrides.values()) <= set(
            SEVERITIES
        ):
            raise ConfigError("expectations settings: severity is critical or warning")

    def severity(self, suite: str, expectation: str) -> str:
        override = self.severity_overrides.get(f"{suite}/{expectation}")
        return override or self.default_severity[suite.split(".", 1)[0]]


def load_settings(directory: Path = EXPECTATIONS_DIR) -> QualitySettings:
    """expectations/settings.yaml as frozen settings (ConfigError on a defect)."""
    path = directory / "settings.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        volume, stamps, severity = raw["volume"], raw["timestamps"], raw["severity"]
        overrides = {key: level for level in SEVERITIES for key in severity.get(level) or ()}
        return QualitySettings(
            volume_factor=float(volume["factor"]),
            volume_baseline_days=int(volume["baseline_days"]),
            volume_min_baseline_days=int(volume["min_baseline_days"]),
            volume_sources=tuple(volume["sources"]),
            records_days_before=int(stamps["records_days_before"]),
            events_days_before=int(stamps["events_days_before"]),
            birth_years_before=int(stamps["birth_years_before"]),
            hours_after=int(stamps["hours_after"]),
            max_quarantined_share=float(raw["ingest"]["max_quarantined_share"]),
            min_in_stock_share=float(raw["catalogue"]["min_in_stock_share"]),
            category_path_regex=str(raw["catalogue"]["category_path_regex"]),
            pii_patterns=MappingProxyType(dict(raw["pii_patterns"])),
            max_rows_per_batch=int(raw["sampling"]["max_rows_per_batch"]),
            default_severity=MappingProxyType(dict(severity["default"])),
            severity_overrides=MappingProxyType(overrides),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"expectations settings: {type(exc).__name__} in {path.name}") from None


@dataclass(frozen=True)
class Suite:
    """One suite file: its GE JSON, the batch it validates and the key columns to report."""

    name: str
    batch: str
    index_columns: tuple[str, ...]
    body: dict = field(repr=False)

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    def expectation_names(self) -> list[str]:
        return [e["meta"]["name"] for e in self.body["expectations"]]


def load_suites(directory: Path = EXPECTATIONS_DIR) -> list[Suite]:
    """Every suite under expectations/<layer>/, landing first, in a fixed order."""
    suites = []
    for layer in LAYERS:
        for path in sorted((directory / layer).glob("*.json")):
            body = json.loads(path.read_text(encoding="utf-8"))
            meta = body.get("meta", {}).get("kalido", {})
            names = [e.get("meta", {}).get("name") for e in body["expectations"]]
            if body["name"] != f"{layer}.{path.stem}" or "batch" not in meta:
                raise ConfigError(f"expectations: {layer}/{path.name} has a wrong name or no batch")
            if None in names or len(set(names)) != len(names):
                raise ConfigError(f"expectations: {body['name']} needs unique meta.name values")
            suites.append(
                Suite(body["name"], meta["batch"], tuple(meta.get("index_columns", ())), body)
            )
    return suites


@dataclass
class Finding:
    """The outcome of one expectation, in words that hold no personal data."""

    suite: str
    name: str
    severity: str
    success: bool
    detail: str

    @property
    def label(self) -> str:
        return f"{self.suite}/{self.name}"

    def message(self) -> str:
        return f"{self.label}: {self.detail}"


def _describe_exception(config: dict, columns: list[str]) -> str:
    kwargs = config["kwargs"]
    wanted = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    wanted += list(kwargs.get("column_list") or [])
    missing = [c for c in wanted if c and c not in columns]
    if missing:
        return f"could not be evaluated: column {', '.join(missing)} missing from the batch"
    return "could not be evaluated (error in the expectation)"


def _number(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    return str(value)


def _keys_sample(result: dict) -> str:
    """The first few distinct offending keys (pseudonyms, product ids, dates)."""
    lists = result.get("partial_unexpected_index_list") or []
    if not lists or not isinstance(lists[0], dict):
        return ""
    columns = lists[0]
    rows = list(zip(*columns.values(), strict=True))
    distinct = list(dict.fromkeys(rows))[:SAMPLE_SIZE]
    names = "/".join(columns)
    shown = ", ".join("/".join(str(v) for v in row) for row in distinct)
    return f"; sample {names}: {shown}"


def _detail(result_json: dict, columns: list[str]) -> str:
    config = result_json["expectation_config"]
    kwargs = config["kwargs"]
    result = result_json.get("result") or {}
    what = config["type"]
    on = kwargs.get("column") or "/".join(
        str(kwargs[k]) for k in ("column_A", "column_B") if k in kwargs
    )
    head = f"{what}({on})" if on else what
    if result_json.get("exception_info", {}).get("raised_exception"):
        return f"{head} {_describe_exception(config, columns)}"
    if "unexpected_count" in result:
        return (
            f"{head}: {result['unexpected_count']} of {result.get('element_count')} rows "
            f"unexpected{_keys_sample(result)}"
        )
    if what == "expect_table_columns_to_match_set":
        mismatch = (result.get("details") or {}).get("mismatched") or {}
        return (
            f"{head}: columns missing {sorted(mismatch.get('missing') or [])}, "
            f"unexpected {sorted(mismatch.get('unexpected') or [])}"
        )
    bounds = ", ".join(
        f"{k} {_number(kwargs[k])}" for k in ("min_value", "max_value") if kwargs.get(k) is not None
    )
    return f"{head}: observed {_number(result.get('observed_value'))} ({bounds})"


def _sanitise(item) -> None:
    """Drop tracebacks (they can quote data), cap the offending-key lists and round floats,
    in place."""
    info = item.exception_info or {}
    raised = bool(info.get("raised_exception")) or any(
        isinstance(v, dict) and v.get("raised_exception") for v in info.values()
    )
    item.exception_info = {
        "raised_exception": raised,
        "exception_message": "expectation could not be evaluated" if raised else None,
        # GE's page renders the traceback as text; the real one can quote data
        "exception_traceback": "(not kept)" if raised else None,
    }
    item.result = result = _rounded(item.result or {})
    for key in ("partial_unexpected_list", "unexpected_list", "partial_unexpected_counts"):
        result.pop(key, None)
    result.pop("unexpected_index_query", None)
    for entry in result.get("partial_unexpected_index_list") or []:
        if isinstance(entry, dict):
            for column, values in entry.items():
                if isinstance(values, list):
                    entry[column] = values[:KEPT_KEYS]


def _rounded(value: Any) -> Any:
    """Floats to 6 significant digits: a long run of digits (0.9166666666666666) would look
    like a card number to any scanner of the published files."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _gx_context(docs_dir: Path):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            "kalido": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx, gx.get_context(mode="ephemeral", project_config=config)


@dataclass
class Report:
    findings: list[Finding]
    results_dir: Path
    docs_index: Path

    @property
    def critical_failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.success and f.severity == "critical"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.success and f.severity == "warning"]


def run_suites(
    suites: list[Suite],
    batches: dict[str, Any],
    parameters: dict[str, Any],
    settings: QualitySettings,
    run_name: str,
    quality_dir: Path,
) -> Report:
    """Validate each suite on its batch (a pandas DataFrame), write results and Data Docs."""
    from great_expectations.core.run_identifier import RunIdentifier

    docs_dir = quality_dir / "docs"
    results_dir = quality_dir / "validations" / run_name
    shutil.rmtree(docs_dir, ignore_errors=True)  # the docs show the latest run
    shutil.rmtree(results_dir, ignore_errors=True)
    results_dir.mkdir(parents=True)
    gx, context = _gx_context(docs_dir)
    datasource = context.data_sources.add_pandas("kalido")
    run_id = RunIdentifier(run_name=run_name)
    findings: list[Finding] = []
    for suite in suites:
        frame = _vectorisable(batches[suite.batch])
        body = json.loads(json.dumps(suite.body))
        for expectation in body["expectations"]:
            expectation["severity"] = settings.severity(suite.name, expectation["meta"]["name"])
        gx_suite = context.suites.add(gx.ExpectationSuite(**body))
        asset = datasource.add_dataframe_asset(suite.name)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(
                name=suite.name,
                data=asset.add_batch_definition_whole_dataframe("run"),
                suite=gx_suite,
            )
        )
        if suite.index_columns:
            result_format = {
                "result_format": "SUMMARY",
                "partial_unexpected_count": SAMPLE_SIZE,
                "unexpected_index_column_names": list(suite.index_columns),
                "exclude_unexpected_values": True,
            }
        else:  # raw personal data: counts only
            result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
        used = {k: v for k, v in parameters.items() if _uses(suite.body, k)}
        result = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=used,
            result_format=result_format,
            run_id=run_id,
        )
        columns = [str(c) for c in frame.columns]
        for item in result.to_json_dict()["results"]:
            config = item["expectation_config"]
            findings.append(
                Finding(
                    suite.name,
                    config["meta"]["name"],
                    config.get("severity") or "critical",
                    bool(item["success"]),
                    _detail(item, columns),
                )
            )
        for item in result.results:
            _sanitise(item)
        # Random UUIDs are no use to a reader and some look like dash-separated card numbers.
        for item in result.results:
            item.expectation_config.id = None
        result.meta.pop("validation_id", None)
        result.meta.pop("checkpoint_id", None)
        store = context.validation_results_store
        for key in store.list_keys():
            if key.expectation_suite_identifier.name == suite.name:
                store.set(key, result)  # what Data Docs render: the sanitised result
        (results_dir / f"{suite.name}.json").write_text(
            json.dumps(result.to_json_dict(), indent=2, sort_keys=True, default=str),
            encoding="utf-8",
        )
    context.build_data_docs()
    _replace_random_ids(docs_dir)
    overview = quality_dir / "index.html"
    overview.write_text(_overview_html(run_name, suites, findings, docs_dir), encoding="utf-8")
    return Report(findings, results_dir, overview)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _replace_random_ids(docs_dir: Path) -> None:
    """GE's pages tie their collapsible sections with random UUIDs; numbered ids instead keep
    the pages stable and free of digit runs that a card-number scanner would flag."""
    for page in docs_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        found = list(dict.fromkeys(UUID.findall(text)))
        for number, uuid in enumerate(found, start=1):
            text = text.replace(uuid, f"section-id-{number}")
        if found:
            page.write_text(text, encoding="utf-8")


def _overview_html(run_name: str, suites: list[Suite], findings: list[Finding], docs: Path) -> str:
    """A static page (no script, no network) over GE's Data Docs: GE's own index fills its
    tables with JavaScript from CDNs, its validation pages are plain HTML and render offline."""
    failed = [f for f in findings if not f.success]
    critical = [f for f in failed if f.severity == "critical"]
    verdict = "stopped before publish" if critical else "passed: may publish"
    rows = []
    for suite in suites:
        layer, _, table = suite.name.partition(".")
        pages = sorted((docs / "validations" / layer / table).glob("**/*.html"))
        mine = [f for f in findings if f.suite == suite.name]
        bad = [f for f in mine if not f.success]
        link = (
            f'<a href="{escape(str(pages[-1].relative_to(docs.parent)))}">{escape(suite.name)}</a>'
            if pages
            else escape(suite.name)
        )
        rows.append(
            f"<tr><td>{link}</td><td>{len(mine)}</td><td>{len(bad)}</td>"
            f"<td>{escape(', '.join(f.name + ' (' + f.severity + ')' for f in bad)) or 'ok'}"
            "</td></tr>"
        )
    items = "".join(f"<li><b>{escape(f.severity)}</b> {escape(f.message())}</li>" for f in failed)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>KALIDO data quality: {escape(run_name)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;"
        "padding:4px 8px}table{border-collapse:collapse}</style></head><body>"
        f"<h1>Data quality of run {escape(run_name)}</h1>"
        f'<p id="verdict">{len(findings)} expectations in {len(suites)} suites; '
        f"{len(critical)} critical failed, {len(failed) - len(critical)} warnings: "
        f"<b>{verdict}</b></p>"
        f'<ul id="failures">{items}</ul>'
        '<table id="suites"><tr><th>suite (Great Expectations validation page)</th>'
        "<th>expectations</th><th>failed</th><th>which</th></tr>"
        + "".join(rows)
        + "</table><p>Expectation suites and the full Great Expectations site: "
        '<a href="docs/index.html">docs/index.html</a> (its index needs network access for '
        "its scripts; every linked page above renders offline).</p></body></html>\n"
    )


def _vectorisable(frame):
    """GE compares only nanosecond timestamps vectorised (others value by value, slowly)."""
    stamps = [c for c in frame.columns if str(frame[c].dtype).startswith("datetime64[")]
    frame = frame.astype({c: "datetime64[ns]" for c in stamps}) if stamps else frame
    return frame.copy()  # one consolidated block per dtype: GE copies the frame per metric


def _uses(body: dict, parameter: str) -> bool:
    return f'"$PARAMETER": "{parameter}"' in json.dumps(body)
