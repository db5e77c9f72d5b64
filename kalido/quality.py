"""Great Expectations suites: settings, loading, running, Data Docs. The suites of the landing
files and the exports live in expectations/<layer>/, each published table's beside its statements
(tables/<table>/suite.json).

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
from kalido.db import TABLES_DIR

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
STATIC_DIR = Path(__file__).parent / "quality_static"  # offline CSS, JS and icons (README.md)
LAYERS = ("landing", "warehouse", "exports")
SEVERITIES = ("critical", "warning")
SAMPLE_SIZE = 5  # offending keys quoted in a message
KEPT_KEYS = 20  # offending keys kept per expectation in the stored results
HISTORY_RUNS = 30  # earlier runs whose validation pages and rows the docs keep


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


def _suite_files(layer: str) -> list[tuple[str, Path]]:
    """(suite's own name, file) of one layer, by name."""
    if layer == "warehouse":
        found = [(p.parent.name, p) for p in TABLES_DIR.glob("*/suite.json")]
    else:
        found = [(p.stem, p) for p in (EXPECTATIONS_DIR / layer).glob("*.json")]
    return sorted(found)


def load_suites() -> list[Suite]:
    """Every suite, landing first, in a fixed order."""
    suites = []
    for layer in LAYERS:
        for stem, path in _suite_files(layer):
            body = json.loads(path.read_text(encoding="utf-8"))
            meta = body.get("meta", {}).get("kalido", {})
            names = [e.get("meta", {}).get("name") for e in body["expectations"]]
            if body["name"] != f"{layer}.{stem}" or "batch" not in meta:
                raise ConfigError(f"expectations: {body.get('name')} has a wrong name or no batch")
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
    shutil.rmtree(results_dir, ignore_errors=True)
    # Earlier runs' pages stay (their results are reloaded below); a rerun replaces its own.
    for page_dir in (docs_dir / "validations").glob(f"*/*/{run_name}"):
        shutil.rmtree(page_dir, ignore_errors=True)
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
    store = context.validation_results_store
    current = list(store.list_keys())
    history = _stored_history(quality_dir / "validations", run_name)
    for key, stored in history:
        store.set(key, stored)  # listed in GE's index; their pages are on disk already
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    context.build_data_docs(
        resource_identifiers=current + [ExpectationSuiteIdentifier(s.name) for s in suites]
    )
    _replace_random_ids(docs_dir)
    _offline(docs_dir)
    overview = quality_dir / "index.html"
    overview.write_text(
        _overview_html(run_name, suites, findings, docs_dir, history, _run_records(quality_dir)),
        encoding="utf-8",
    )
    return Report(findings, results_dir, overview)


def _stored_history(validations: Path, run_name: str) -> list[tuple[Any, Any]]:
    """The stored (sanitised) results of the HISTORY_RUNS latest earlier runs, as GE keys and
    results: what the Data Docs list besides this run. Older runs keep their JSON results
    under quality/validations/; GE's site cleaning drops their pages."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    runs = []
    for run_dir in validations.iterdir() if validations.is_dir() else ():
        files = sorted(run_dir.glob("*.json"))
        if run_dir.name == run_name or not files:
            continue
        try:
            meta = json.loads(files[0].read_text(encoding="utf-8"))["meta"]["run_id"]
            runs.append((str(meta["run_time"]), run_dir.name, files))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable result is no reason to stop a night
    schema = ExpectationSuiteValidationResultSchema()
    history = []
    for _, name, files in sorted(runs)[-HISTORY_RUNS:]:
        for path in files:
            try:
                result = schema.load(json.loads(path.read_text(encoding="utf-8")))
                run_id = result.meta["run_id"]
            except Exception:  # noqa: BLE001 - a result GE cannot read back is skipped
                continue
            key = ValidationResultIdentifier(
                ExpectationSuiteIdentifier(result.suite_name),
                RunIdentifier(run_name=name, run_time=run_id["run_time"]),
                f"kalido-{result.suite_name}",  # the datasource and asset names run_suites uses
            )
            history.append((key, result))
    return history


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


OFFLINE_MARK = "static/kalido/kalido-docs.css"
EXTERNAL_TAG = re.compile(
    r"""<link\b[^>]*\bhref=["']https?://[^>]*>"""
    r"""|<script\b[^>]*\bsrc=["']https?://[^>]*>\s*</script>""",
    re.IGNORECASE,
)
EXTERNAL_LOGO = re.compile(r"""src=["']https?://[^"']*/logo-long\.png[^"']*["']""")
EXTERNAL_URL = re.compile(r"""url\(\s*["']?https?://[^)]*\)""")
FAVICON = re.compile(r'href="[./]*static/images/favicon\.ico"')
ICON = re.compile(r'<i class="(fa[srb]? fa-([a-z-]+)[^"]*)"([^>]*)>\s*</i>')


def _icon(name: str) -> str | None:
    path = STATIC_DIR / "icons" / f"{name}.svg"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def _offline(docs_dir: Path) -> None:
    """Point GE's pages at the assets of kalido/quality_static/ (copied to static/kalido/)
    instead of CDNs, and inline the pass/fail icons as SVG: no page loads anything from the
    network. Pages of earlier runs, already rewritten, are left as they are."""
    target = docs_dir / "static" / "kalido"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(STATIC_DIR, target, ignore=shutil.ignore_patterns("*.md", "icons"))
    icons: dict[str, str | None] = {}

    def inline(match: re.Match) -> str:
        name = match.group(2)
        if name not in icons:
            icons[name] = _icon(name)
        svg = icons[name]
        return f'<i class="{match.group(1)}"{match.group(3)}>{svg}</i>' if svg else match.group(0)

    for style in (docs_dir / "static" / "styles").glob("*.css"):  # GE's, unused but shipped
        text = style.read_text(encoding="utf-8")
        if EXTERNAL_URL.search(text):
            style.write_text(
                EXTERNAL_URL.sub("url('../images/logo-long-vector.svg')", text), encoding="utf-8"
            )
    for page in docs_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if OFFLINE_MARK in text:
            continue
        up = Path(os.path.relpath(docs_dir, page.parent)).as_posix()
        text = EXTERNAL_TAG.sub("", text)
        text = EXTERNAL_LOGO.sub(f'src="{up}/static/images/logo-long.png"', text)
        text = EXTERNAL_URL.sub(f"url('{up}/static/images/logo-long-vector.svg')", text)
        text = ICON.sub(inline, text)
        # GE links the favicon one level too high from validation pages
        text = FAVICON.sub(f'href="{up}/static/images/favicon.ico"', text)
        assets = (
            f'<link rel="stylesheet" href="{up}/{OFFLINE_MARK}">'
            f'<script src="{up}/static/kalido/kalido-docs.js"></script>'
        )
        text = text.replace("<head>", "<head>" + assets, 1)
        page.write_text(text, encoding="utf-8")


# --- the overview page -------------------------------------------------------------------------

STATUS_COLOURS = {"success": "#28a745", "failed": "#dc3545"}  # others (running...) grey
SERIES_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 640, 190, 56, 34, 14


def _run_records(quality_dir: Path) -> list[dict]:
    """The run records (runs/*.json beside quality/) in start order, the HISTORY_RUNS latest."""
    records = []
    for path in sorted((quality_dir.parent / "runs").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("stages"), dict):
            records.append(record)
    records.sort(key=lambda r: (str(r.get("started_at") or ""), str(r.get("run_id"))))
    return records[-HISTORY_RUNS:]


def _per_day(records: list[dict], stage: str) -> dict[str, dict]:
    """The stage's counts per logical date, from the latest run that recorded that stage."""
    days: dict[str, dict] = {}
    for record in records:
        counts = record["stages"].get(stage)
        if isinstance(counts, dict):
            days[str(record.get("logical_date"))] = counts
    return dict(sorted(days.items()))


def _seconds(record: dict) -> float | None:
    from datetime import datetime

    try:
        started = datetime.fromisoformat(record["started_at"])
        finished = datetime.fromisoformat(record["finished_at"])
    except (KeyError, TypeError, ValueError):
        seconds = [c.get("seconds") for c in record["stages"].values() if isinstance(c, dict)]
        return sum(v for v in seconds if isinstance(v, int | float)) or None
    return max((finished - started).total_seconds(), 0.0)


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.1f}%"
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.3g}"


def _svg_chart(
    chart_id: str,
    labels: list[str],
    series: dict[str, list[float | None]],
    *,
    kind: str = "bar",
    percent: bool = False,
    bar_colours: list[str] | None = None,
) -> str:
    """A small inline SVG chart (no script): bars (one series) or lines, one x step per label,
    an axis with its maximum, a <title> on every mark and a legend for several series."""
    values = [v for vs in series.values() for v in vs if v is not None]
    if not labels or not values:
        return (
            f'<svg id="{chart_id}" class="chart" width="{CHART_W}" height="40" role="img">'
            '<text x="8" y="24" fill="#6c757d">no data yet</text></svg>'
        )
    top = max(max(values), 1e-9) if not percent else max(max(values), 0.01)
    plot_w, plot_h = CHART_W - PAD_L - 10, CHART_H - PAD_B - PAD_T
    step = plot_w / len(labels)

    def y(value: float) -> float:
        return PAD_T + plot_h * (1 - value / top)

    parts = [
        f'<svg id="{chart_id}" class="chart" width="{CHART_W}" height="{CHART_H}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" role="img">',
        f'<line x1="{PAD_L}" y1="{PAD_T + plot_h}" x2="{CHART_W - 10}" y2="{PAD_T + plot_h}" '
        'stroke="#999"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{PAD_T + plot_h}" stroke="#999"/>',
        f'<text x="{PAD_L - 4}" y="{PAD_T + 4}" text-anchor="end" font-size="10">'
        f"{escape(_fmt(top, percent))}</text>",
        f'<text x="{PAD_L - 4}" y="{PAD_T + plot_h}" text-anchor="end" font-size="10">0</text>',
    ]
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(
                f'<text x="{PAD_L + step * (i + 0.5):.1f}" y="{CHART_H - PAD_B + 14}" '
                f'text-anchor="middle" font-size="10">{escape(label)}</text>'
            )
    for number, (name, points) in enumerate(series.items()):
        colour = SERIES_COLOURS[number % len(SERIES_COLOURS)]
        if kind == "bar":
            width = max(step * 0.7, 1)
            for i, value in enumerate(points):
                if value is None:
                    continue
                fill = bar_colours[i] if bar_colours else colour
                top_y = y(value)
                parts.append(
                    f'<rect class="mark" x="{PAD_L + step * i + (step - width) / 2:.1f}" '
                    f'y="{top_y:.1f}" width="{width:.1f}" height="{PAD_T + plot_h - top_y:.1f}" '
                    f'fill="{fill}"><title>{escape(labels[i])}: {escape(_fmt(value, percent))}'
                    "</title></rect>"
                )
            continue
        shown = [(i, v) for i, v in enumerate(points) if v is not None]
        coords = " ".join(f"{PAD_L + step * (i + 0.5):.1f},{y(v):.1f}" for i, v in shown)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        parts.extend(
            f'<circle class="mark" cx="{PAD_L + step * (i + 0.5):.1f}" cy="{y(v):.1f}" r="3" '
            f'fill="{colour}"><title>{escape(name)} {escape(labels[i])}: '
            f"{escape(_fmt(v, percent))}</title></circle>"
            for i, v in shown
        )
        if len(series) > 1:
            parts.append(
                f'<text x="{PAD_L + 8 + 90 * number}" y="{PAD_T - 2}" font-size="10" '
                f'fill="{colour}">{escape(name)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _charts(records: list[dict]) -> str:
    """The overview's charts, from the run records: counts and shares only, never an
    identifier (labels are dates, source names and run statuses)."""
    finished = records  # this run too, still running: its stages' seconds so far, in grey
    run_labels = [str(r.get("logical_date")) for r in finished]
    durations = [_seconds(r) for r in finished]
    colours = [STATUS_COLOURS.get(str(r.get("status")), "#adb5bd") for r in finished]
    statuses = ", ".join(
        f"{status} {sum(r.get('status') == status for r in finished)}"
        for status in dict.fromkeys(str(r.get("status")) for r in finished)
    )
    ingest = _per_day(records, "ingest")
    sources = sorted({s for c in ingest.values() for s in (c.get("by_source") or {})})
    volumes = {
        source: [
            (c.get("by_source") or {}).get(source, {}).get("rows_loaded") for c in ingest.values()
        ]
        for source in sources
    }
    quarantine = [
        (c.get("rows_quarantined") or 0) / c["rows_read"] if c.get("rows_read") else None
        for c in ingest.values()
    ]
    publish = _per_day(records, "publish")
    similarity = _per_day(records, "similarity")
    recommend = _per_day(records, "recommend")
    charts = [
        (
            "chart-runs",
            "Runs over time: duration in seconds, coloured by status "
            f"(green success, red failed, grey other; {escape(statuses) or 'none'})",
            _svg_chart("chart-runs", run_labels, {"seconds": durations}, bar_colours=colours),
        ),
        (
            "chart-volumes",
            "Daily volumes per source: rows loaded",
            _svg_chart("chart-volumes", list(ingest), volumes, kind="line"),
        ),
        (
            "chart-quarantine",
            "Quarantine share: rows quarantined of rows read",
            _svg_chart("chart-quarantine", list(ingest), {"share": quarantine}, percent=True),
        ),
        (
            "chart-recipients",
            "Feed recipients (pseudonymous people in the email feed)",
            _svg_chart(
                "chart-recipients",
                list(publish),
                {"recipients": [c.get("feed_recipients") for c in publish.values()]},
            ),
        ),
        (
            "chart-coverage",
            "Recommendation coverage (catalogue share, from the quality evaluation)",
            _svg_chart(
                "chart-coverage",
                list(similarity),
                {"coverage": [c.get("quality_coverage") for c in similarity.values()]},
                kind="line",
                percent=True,
            ),
        ),
    ]
    # Fallback share: the recommend stage counts `recommendations_popular_in`; run records
    # written before it did are left out of the chart.
    fallback = {
        day: c["recommendations_popular_in"] / c["recommendations"]
        for day, c in recommend.items()
        if c.get("recommendations") and c.get("recommendations_popular_in") is not None
    }
    if fallback:
        charts.append(
            (
                "chart-fallback",
                "Fallback share: recommendations whose reason is popular_in",
                _svg_chart(
                    "chart-fallback",
                    list(fallback),
                    {"share": list(fallback.values())},
                    percent=True,
                ),
            )
        )
    body = "".join(
        f'<figure id="{cid}-figure"><figcaption>{caption}</figcaption>{svg}</figure>'
        for cid, caption, svg in charts
    )
    if not fallback:
        body += (
            "<!-- fallback share skipped: no run record counts popular_in recommendations -->"
            '<p id="chart-fallback-missing">Fallback share: not charted, no run record counts '
            "recommendations by reason.</p>"
        )
    return f'<h2>Over time (last {len(records)} runs)</h2><div id="charts">{body}</div>'


def _status_icon(success: bool) -> str:
    name, cls = ("check-circle", "pass") if success else ("times", "fail")
    return f'<span class="status {cls}">{_icon(name) or ("ok" if success else "failed")}</span>'


def _history_html(history: list[tuple[Any, Any]], docs: Path) -> str:
    """One row per earlier run (newest first) from the stored results, with its failed suites'
    pages. Links are written "./docs/..." to keep apart from this run's table."""
    runs: dict[str, list] = {}
    for key, result in history:
        runs.setdefault(key.run_id.run_name, []).append((key, result))
    rows = []
    for name, items in sorted(runs.items(), key=lambda kv: str(kv[1][0][0].run_id.run_time)):
        stats = [result.statistics for _, result in items]
        failed = []
        for key, result in items:
            if result.success:
                continue
            layer, _, table = key.expectation_suite_identifier.name.partition(".")
            pages = sorted((docs / "validations" / layer / table / name).glob("**/*.html"))
            label = escape(key.expectation_suite_identifier.name)
            failed.append(
                f'<a href="./{escape(pages[-1].relative_to(docs.parent).as_posix())}">{label}</a>'
                if pages
                else label
            )
        rows.append(
            f"<tr><td>{_status_icon(not failed)}</td><td>{escape(name)}</td>"
            f"<td>{len(items)}</td>"
            f"<td>{sum(s.get('evaluated_expectations', 0) for s in stats)}</td>"
            f"<td>{sum(s.get('unsuccessful_expectations', 0) for s in stats)}</td>"
            f"<td>{', '.join(failed) or 'all suites passed'}</td></tr>"
        )
    if not rows:
        return '<h2>Earlier runs</h2><p id="history">none stored yet</p>'
    return (
        f"<h2>Earlier runs (the {len(rows)} latest, from quality/validations/)</h2>"
        '<table id="history"><tr><th>status</th><th>run</th><th>suites</th>'
        "<th>expectations</th><th>failed</th><th>suites that failed</th></tr>"
        + "".join(reversed(rows))
        + "</table>"
    )


def _overview_html(
    run_name: str,
    suites: list[Suite],
    findings: list[Finding],
    docs: Path,
    history: list[tuple[Any, Any]] = (),
    records: list[dict] = (),
) -> str:
    """A static page (no script, no network) over GE's Data Docs, with inline SVG charts of
    the run records and the earlier runs' validations."""
    failed = [f for f in findings if not f.success]
    critical = [f for f in failed if f.severity == "critical"]
    verdict = "stopped before publish" if critical else "passed: may publish"
    rows = []
    for suite in suites:
        layer, _, table = suite.name.partition(".")
        pages = sorted((docs / "validations" / layer / table / run_name).glob("**/*.html"))
        mine = [f for f in findings if f.suite == suite.name]
        bad = [f for f in mine if not f.success]
        link = (
            f'<a href="{escape(pages[-1].relative_to(docs.parent).as_posix())}">'
            f"{escape(suite.name)}</a>"
            if pages
            else escape(suite.name)
        )
        rows.append(
            f"<tr><td>{_status_icon(not bad)}</td><td>{link}</td><td>{len(mine)}</td>"
            f"<td>{len(bad)}</td>"
            f"<td>{escape(', '.join(f.name + ' (' + f.severity + ')' for f in bad)) or 'ok'}"
            "</td></tr>"
        )
    items = "".join(f"<li><b>{escape(f.severity)}</b> {escape(f.message())}</li>" for f in failed)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>KALIDO data quality: {escape(run_name)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;"
        "padding:4px 8px}table{border-collapse:collapse}.status.pass{color:#28a745}"
        ".status.fail{color:#dc3545}svg.kalido-icon{width:1em;height:1em;vertical-align:-.125em}"
        "figure{margin:1em 0}figcaption{font-size:90%;margin-bottom:4px}</style></head><body>"
        f"<h1>Data quality of run {escape(run_name)}</h1>"
        f'<p id="verdict">{len(findings)} expectations in {len(suites)} suites; '
        f"{len(critical)} critical failed, {len(failed) - len(critical)} warnings: "
        f"<b>{verdict}</b></p>"
        f'<ul id="failures">{items}</ul>'
        '<table id="suites"><tr><th>status</th>'
        "<th>suite (Great Expectations validation page)</th>"
        "<th>expectations</th><th>failed</th><th>which</th></tr>"
        + "".join(rows)
        + "</table>"
        + _charts(list(records))
        + _history_html(list(history), docs)
        + "<p>Expectation suites and the full Great Expectations site, this run and earlier "
        'ones: <a href="docs/index.html">docs/index.html</a>. Every page renders offline.</p>'
        "</body></html>\n"
    )


def _vectorisable(frame):
    """GE compares only nanosecond timestamps vectorised (others value by value, slowly)."""
    stamps = [c for c in frame.columns if str(frame[c].dtype).startswith("datetime64[")]
    frame = frame.astype({c: "datetime64[ns]" for c in stamps}) if stamps else frame
    return frame.copy()  # one consolidated block per dtype: GE copies the frame per metric


def _uses(body: dict, parameter: str) -> bool:
    return f'"$PARAMETER": "{parameter}"' in json.dumps(body)
