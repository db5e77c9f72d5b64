"""The `kalido` command: generate, run, demo, runs, purge, rotate-key, feed-url, import-events,
evaluate, report."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from kalido import lifeline
from kalido.config import (
    EXPORT_URL_VARIABLE,
    ConfigError,
    Layout,
    RunInProgress,
    default_home,
    policy_path,
)
from kalido.stages import NIGHTLY, PER_SHARD

log = logging.getLogger("kalido")  # every module's logger is below it

DEMO_SIZE = {"days": 14, "users": 2000, "products": 600}
# What a progress line says of each stage (every count is in the run record: kalido runs --json).
PROGRESS_COUNTS = {
    "ingest": ("rows_read", "rows_loaded", "rows_quarantined"),
    "purge": ("rows_removed", "files_rewritten"),
    "pseudonymise": ("stg_customers", "stg_browsing", "stg_orders"),
    "gate": ("customers", "may_profile", "may_email"),
    "build_features": ("views_recent", "interest_profiles"),
    "similarity": ("product_similarity",),
    "recommend": ("recommendations",),
    "ads": ("ad_profiles", "ad_segments_published"),
    "subject_access": ("access_exports",),
    "validate": ("expectations", "failed_critical"),
    "publish": ("feed_rows", "feed_recipients"),
    "check_requests": ("requests", "open", "overdue"),
}
# The longest a presigned URL may live on S3 and GCS (SigV4 and V4 signing): a week.
MAX_EXPIRY_SECONDS = 7 * 24 * 3600
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

# The --help epilog: every variable kalido reads, and what its exit statuses mean.
ENVIRONMENT = {
    "KALIDO_HOME": "where the stores live (default: ./data)",
    "KALIDO_PSEUDONYM_KEY": "the pseudonym secret, 32 bytes or more",
    "KALIDO_PSEUDONYM_KEY_VERSION": "the key's version (default 1)",
    "KALIDO_SUPPRESSION_KEY": "the suppression list's secret (optional)",
    "KALIDO_POLICY": "a policy file instead of the packaged one",
    "KALIDO_LANDING_URL": "fsspec URL of a drop zone (into landing/)",
    "KALIDO_EXPORT_URL": "fsspec URL of the exports' mirror (feed-url)",
    "KALIDO_DUCKDB_MEMORY_LIMIT": "DuckDB's memory in a stage (default 2GB)",
    "KALIDO_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR (-v: INFO)",
}
EXIT_STATUS = {
    0: "success",
    1: "a failed run, recorded as failed (traceback in restricted/logs)",
    2: "a usage or configuration error, or another run (run, purge, rotate-key)\n"
    "     in progress on the same KALIDO_HOME: one line on stderr, nothing written",
}
EPILOG = "\n\n".join(
    [
        "\n".join(["Environment:"] + [f"  {k:<29} {v}" for k, v in ENVIRONMENT.items()]),
        "\n".join(["Exit status:"] + [f"  {k}  {v}" for k, v in EXIT_STATUS.items()]),
    ]
)

app = typer.Typer(
    name="kalido",
    help=__doc__,
    epilog=EPILOG,
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    # A traceback with local variables could show personal data: main() reports errors itself.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)


def _date(text: str | date) -> date:
    if isinstance(text, date):  # a default
        return text
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("expected a date as YYYY-MM-DD") from None


def _seconds(text: str | int) -> int:
    match = _DURATION.match(str(text).strip().lower())
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else 0
    if not 0 < seconds <= MAX_EXPIRY_SECONDS:
        raise typer.BadParameter("expected a duration such as 900s, 30m, 1h or 7d, at most 7d")
    return seconds


def _show_version(value: bool) -> None:
    if value:
        print(f"kalido {metadata.version('kalido')}")
        raise typer.Exit()


def _log_level(verbose: bool) -> str:
    level = "INFO" if verbose else os.environ.get(lifeline.LOG_LEVEL_VARIABLE) or "WARNING"
    if level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(
            f"{lifeline.LOG_LEVEL_VARIABLE} must be DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return level.upper()


@app.callback()
def _options(
    verbose: Annotated[
        bool,
        typer.Option(
            "-v",
            "--verbose",
            help="log every file and stage on stderr, from the stage processes too "
            "(KALIDO_LOG_LEVEL=INFO does the same)",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    level = _log_level(verbose)
    logging.basicConfig(level=logging.WARNING, format=lifeline.LOG_FORMAT)
    log.setLevel(level)
    # Stage processes start with the caller's environment (db.in_fresh_process): they log alike.
    os.environ[lifeline.LOG_LEVEL_VARIABLE] = level


JsonOption = Annotated[
    bool,
    typer.Option("--json", help="print one JSON document on stdout instead of the summary"),
]
LogicalDate = Annotated[
    date,
    typer.Option(
        "--date", parser=_date, metavar="YYYY-MM-DD", help="the logical date", show_default=False
    ),
]


class Progress:
    """run_nightly's on_stage: one line per finished stage (each shard) on stderr, with its
    main counts and seconds; a live bar above them when stderr is a terminal."""

    def __init__(self, shards: int, live: bool):
        self.shards = shards
        self.steps = [
            self._name(stage, label)
            for stage in NIGHTLY
            for label in (_shard_labels(shards) if stage in PER_SHARD else [None])
        ]
        self.done = 0
        self.bar = None
        if live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar

            self.bar = Bar(
                SpinnerColumn(),
                TextColumn("{task.description:<24}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.task = self.bar.add_task(self.steps[0], total=len(self.steps))

    def __enter__(self) -> Progress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()

    def __call__(self, stage: str, label: str | None, counts: dict, seconds: float) -> None:
        name = self._name(stage, label)
        line = f"  {name:<24} {seconds:7.1f} s  {_progress_counts(stage, counts)}".rstrip()
        self.done += 1
        if self.bar:
            self.bar.console.print(line, markup=False, highlight=False)
            upcoming = self.steps[self.done] if self.done < len(self.steps) else "done"
            self.bar.update(self.task, advance=1, description=upcoming)
        else:
            print(line, file=sys.stderr, flush=True)

    def _name(self, stage: str, label: str | None) -> str:
        return f"{stage} {label}" if label and self.shards > 1 else stage


def _shard_labels(shards: int) -> list[str]:
    # Imported here: kalido.stores.shards imports duckdb, and a configuration error stays fast.
    from kalido.stores.shards import plan

    return plan(shards)


def _progress_counts(stage: str, counts: dict) -> str:
    if "skipped" in counts:
        return "skipped"
    return ", ".join(
        f"{name.replace('_', ' ')} {counts[name]}"
        for name in PROGRESS_COUNTS.get(stage, ())
        if isinstance(counts.get(name), int)
    )


def _print_json(document) -> None:
    print(json.dumps(document, indent=2, sort_keys=True, default=str))


def _print_summary(record: dict, layout: Layout, seconds: float) -> None:
    stages = record["stages"]
    # The check's counts, or when it failed the run, the status read after it (see _run).
    requests = stages.get("check_requests") or record.get("requests")
    if record.get("unchanged_since"):
        print(
            f"run {record['run_id']}: {record['status']} in {seconds:.1f} s; nothing changed "
            f"since run {record['unchanged_since']}, so every stage but the requests' check "
            "was skipped (--force runs them)"
        )
        if requests:
            _print_requests(requests)
        _print_outputs(record, layout)
        return
    ingest, gate, features, publish = (
        stages["ingest"],
        stages["gate"],
        stages["build_features"],
        stages["publish"],
    )
    print(f"run {record['run_id']}: {record['status']} in {seconds:.1f} s")
    print(
        f"  ingest    files {ingest['files_ingested']} new, {ingest['files_already_ingested']} "
        f"already ingested, {ingest['files_failed']} failed; rows read {ingest['rows_read']}, "
        f"loaded {ingest['rows_loaded']}, quarantined {ingest['rows_quarantined']}, "
        f"duplicates {ingest['duplicates_dropped']}"
    )
    print(
        f"  gate      customers {gate['customers']}, may be profiled {gate['may_profile']}, "
        f"may be mailed {gate['may_email']} (minors {gate['excluded_minor']}, "
        f"no consent {gate['excluded_no_consent']}, erased {gate['excluded_erased']}, "
        f"restricted {gate['excluded_restricted']}, objected {gate['excluded_objection']})"
    )
    built = {**features, **stages.get("similarity", {}), **stages.get("recommend", {})}
    print(
        "  features  "
        + ", ".join(
            f"{name} {n}"
            for name, n in built.items()
            if name != "shards" and not name.endswith("seconds") and not name.startswith("quality")
        )
    )
    _print_quality(stages.get("similarity", {}))
    quality = stages.get("validate")
    if quality:
        print(
            f"  validate  {quality['expectations']} expectations in {quality['suites']} suites: "
            f"{quality['failed_critical']} critical failed, {len(quality['warnings'])} warnings"
        )
        for warning in quality["warnings"]:
            print(f"    warning {warning}")
    print(
        f"  feed      {publish['feed_rows']} rows for {publish['feed_recipients']} recipients, "
        f"{publish.get('feed_removals', 0)} removals"
    )
    if publish.get("newer_warehouse_kept"):
        print(
            f"  warehouse kept: it was built for {publish['newer_warehouse_kept']}, newer than "
            f"{record['logical_date']}; only pipeline_runs changed (--replace-newer replaces it)"
        )
    if publish.get("newer_warehouse_replaced"):
        print(
            f"  warehouse replaced one built for {publish['newer_warehouse_replaced']} "
            "(--replace-newer)"
        )
    if "ads" in stages:
        _print_ads(stages["ads"], publish)
    if "purge" in stages:
        _print_purge(stages["purge"])
    if requests:
        _print_requests(requests)
    _print_outputs(record, layout, quality)


def _print_ads(ads: dict, publish: dict) -> None:
    print(
        f"  ads       profiles {ads['ad_profiles']} of {ads['ad_cookies']} cookies with an ad "
        f"choice (no consent {ads['ad_excluded_no_consent']}, expired "
        f"{ads['ad_excluded_expired']}, minors {ads['ad_excluded_minor']}, objection, "
        f"restriction or erasure {ads['ad_excluded_customer_request']}); segments published "
        f"{ads['ad_segments_published']}, suppressed {ads['ad_segments_suppressed']} (under "
        f"{ads['ad_segment_min_size']}); export {publish.get('ad_export_rows', 0)} rows"
    )


def _print_quality(similarity: dict) -> None:
    if not similarity.get("quality_users"):
        return
    gap, ci95 = similarity["quality_hr_gap"], similarity["quality_hr_gap_ci95"] or 0.0
    verdict = "below trending" if gap + ci95 < 0 else "not below trending"
    print(
        f"  quality   HR@20 {similarity['quality_hr_at_20']:.3f} against trending "
        f"{similarity['quality_baseline_hr_at_20']:.3f} on {similarity['quality_users']} people "
        f"of the held-back week ({verdict}); coverage {similarity['quality_coverage']:.2f}"
    )


def _print_outputs(record: dict, layout: Layout, quality: dict | None = None) -> None:
    print(f"warehouse:  {layout.warehouse}")
    print(f"email feed: {layout.email_feed / ('dt=' + record['logical_date'])}")
    print(f"ad export:  {layout.ad_export / ('dt=' + record['logical_date'])}")
    if quality:
        print(f"data docs:  {layout.home / quality['data_docs']}")


def _print_purge(purge: dict) -> None:
    print(
        f"  purge     erased {purge['erased_customers']}, suppressed "
        f"{purge['suppressed_customers']}, expired {purge['expired_customers']} customers; "
        f"rows removed {purge['rows_removed']}, files removed {purge['files_removed']}, "
        f"rewritten {purge['files_rewritten']}, archived {purge['rows_archived']}"
    )
    print(f"  report    {purge['report']}")


def _print_requests(status: dict) -> None:
    print(
        f"  requests  {status['requests']} logged, {status['open']} open, "
        f"{status['completed']} completed; overdue {status['overdue']}, "
        f"answered late {status['completed_late']}, failed {status['failed']}"
    )
    if status["attention"]:
        print(f"  ATTENTION requests {', '.join(status['attention'][:20])}")


@app.command()
def generate(
    days: Annotated[int, typer.Option(min=1, help="days of data, ending at --end-date")],
    users: Annotated[int, typer.Option(min=1, help="customers")],
    products: Annotated[int, typer.Option(min=1, help="catalogue products")],
    out: Annotated[Path, typer.Option(help="the zone's home: files go to OUT/landing")],
    seed: Annotated[int, typer.Option(help="random seed (same seed, same files)")] = 42,
    end_date: Annotated[
        date | None,
        typer.Option(parser=_date, metavar="YYYY-MM-DD", help="last generated day"),
    ] = None,
    bad_rate: Annotated[float, typer.Option(help="share of bad input rows")] = 0.005,
) -> None:
    """Write a synthetic landing zone under OUT/landing."""
    from kalido.tools.generate import DEFAULT_END_DATE, generate_landing

    summary = generate_landing(
        out,
        days=days,
        users=users,
        products=products,
        seed=seed,
        end_date=end_date or DEFAULT_END_DATE,
        bad_rate=bad_rate,
    )
    print(
        f"wrote {summary.files} files to {summary.out / 'landing'} for "
        f"{summary.first_date}..{summary.last_date}; rows {summary.rows}"
    )
    print(f"next: KALIDO_HOME={summary.out} kalido run --date {summary.last_date}")


@app.command()
def run(
    logical_date: LogicalDate,
    shards: Annotated[
        int,
        typer.Option(
            min=1,
            help="user-hash shards of the per-user stages (same outputs for any N)",
        ),
    ] = 1,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="run every stage even when nothing changed since the last successful run "
            "of the date",
        ),
    ] = False,
    replace_newer: Annotated[
        bool,
        typer.Option(
            "--replace-newer",
            help="backfill: publish this date's warehouse even over one built for a newer date "
            "(by default an older date publishes its feed and keeps the newer warehouse)",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The nightly pipeline for one logical date."""
    raise typer.Exit(_run(logical_date, shards, force, replace_newer, as_json))


def _run(
    logical_date: date,
    shards: int = 1,
    force: bool = False,
    replace_newer: bool = False,
    as_json: bool = False,
) -> int:
    from kalido.pipelines.nightly import run_nightly
    from kalido.pipelines.requests import RequestsNeedAttention, request_status
    from kalido.stores import runs

    started = time.perf_counter()
    layout = Layout(default_home())
    # The bar would be torn by the stage processes' log lines: with -v, plain lines.
    live = sys.stderr.isatty() and log.getEffectiveLevel() > logging.INFO
    try:
        with Progress(shards, live) as progress:
            record = run_nightly(
                logical_date,
                shards=shards,
                force=force,
                replace_newer=replace_newer,
                on_stage=progress,
            )
        status = 0
    except RequestsNeedAttention:
        # Everything is published; the run fails so that late or failed requests get seen.
        from kalido.pipelines.nightly import preflight

        settings, _ = preflight()
        record = max(runs.all_runs(layout), key=lambda r: r.get("started_at") or "")
        record["requests"] = request_status(settings, logical_date, record["run_id"])
        status = 1
    if as_json:
        _print_json(record)
    else:
        _print_summary(record, layout, time.perf_counter() - started)
    return status


@app.command()
def demo(as_json: JsonOption = False) -> None:
    """Generate a sample landing zone and run the pipeline on it."""
    from kalido.tools.generate import DEFAULT_END_DATE, generate_landing

    # With --json, stdout holds the run record alone.
    say = sys.stderr if as_json else sys.stdout
    home = default_home()
    if not os.environ.get("KALIDO_PSEUDONYM_KEY"):
        key_file = home / "restricted" / "demo_pseudonym_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32), encoding="utf-8")
            key_file.chmod(0o600)
        os.environ["KALIDO_PSEUDONYM_KEY"] = key_file.read_text(encoding="utf-8").strip()
        print(
            f"demo: no KALIDO_PSEUDONYM_KEY set, using the local demo key file {key_file}",
            file=say,
        )
    summary = generate_landing(home, **DEMO_SIZE, end_date=DEFAULT_END_DATE)
    print(
        f"demo: sample landing zone {home / 'landing'} ({summary.files} files, "
        f"{summary.first_date}..{summary.last_date}, {DEMO_SIZE['users']} customers, "
        f"{DEMO_SIZE['products']} products)",
        file=say,
    )
    raise typer.Exit(_run(summary.last_date, as_json=as_json))


@app.command("runs")
def list_runs(
    limit: Annotated[int, typer.Option(min=1, help="how many of the newest runs")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The recent runs, newest first: status, duration and main counts."""
    from kalido.stores.runs import all_runs

    home = default_home()
    if not home.is_dir():
        raise ConfigError(f"KALIDO_HOME {home} does not exist (kalido generate or demo makes one)")
    records = all_runs(Layout(home))[::-1][:limit]
    if as_json:
        _print_json(records)
        return
    if not records:
        print(f"no runs yet in {Layout(home).runs}")
        return
    _print_runs(records)


def _print_runs(records: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False, header_style=None)
    for column in ("run", "date", "status", "duration", "rows read", "feed rows", "recipients"):
        table.add_column(column, justify="left" if column in ("run", "date", "status") else "right")
    table.add_column("note")
    for record in records:
        ingest, publish = (record.get("stages", {}).get(s, {}) for s in ("ingest", "publish"))
        same_as = record.get("unchanged_since")
        table.add_row(
            record["run_id"],
            record.get("logical_date", ""),
            record.get("status", ""),
            _duration(record),
            _count(ingest.get("rows_read")),
            _count(publish.get("feed_rows")),
            _count(publish.get("feed_recipients")),
            record.get("error") or (f"unchanged since {same_as}" if same_as else ""),
        )
    # One run a line, never folded into narrow cells (a terminal wraps a long line itself), and
    # no trailing blanks, so that the list greps and diffs like plain text.
    console = Console(width=10_000, no_color=True, highlight=False)
    with console.capture() as captured:
        console.print(table)
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _count(value) -> str:
    return "" if value is None else str(value)


def _duration(record: dict) -> str:
    if not (record.get("started_at") and record.get("finished_at")):
        return ""
    seconds = (
        datetime.fromisoformat(record["finished_at"]) - datetime.fromisoformat(record["started_at"])
    ).total_seconds()
    return f"{seconds:.0f} s"


@app.command()
def purge(
    logical_date: LogicalDate,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact",
            help="remove every pending erasure's bytes from every retained file now, instead of "
            "in the batched compaction before its deadline",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Apply erasures and retention rules as of a date."""
    from kalido.pipelines.nightly import run_purge

    record = run_purge(logical_date, compact=compact)
    if as_json:
        _print_json(record)
        return
    print(f"purge {record['run_id']}: {record['status']}")
    _print_purge(record["stages"]["purge"])


@app.command("rotate-key")
def rotate_key() -> None:
    """Re-key the identity table to KALIDO_PSEUDONYM_KEY / KALIDO_PSEUDONYM_KEY_VERSION."""
    from kalido.pipelines.nightly import run_rotation

    counts = run_rotation()
    print(
        f"rotated to key version {counts['key_version']}: {counts['identifiers']} identifiers "
        f"re-keyed, {counts['retired']} old pseudonyms retired; the next run publishes the "
        "warehouse under the new key"
    )


@app.command("rebuild-state")
def rebuild_state() -> None:
    """Rebuild the state the nights keep beside the history (each staged browsing partition's
    pairs and sessions summaries) from the history itself."""
    from kalido.pipelines.nightly import run_state_rebuild

    partitions = run_state_rebuild()
    print(f"rebuilt the summaries of {partitions} staged browsing partitions from their events")


@app.command("feed-url")
def feed_url(
    expires: Annotated[
        int,
        typer.Option(
            parser=_seconds,
            metavar="DURATION",
            show_default="1h",
            help="how long the links work: 900s, 30m, 1h, 7d (at most 7d)",
        ),
    ] = 3600,
    feed_date: Annotated[
        date | None,
        typer.Option(
            "--date", parser=_date, metavar="YYYY-MM-DD", help="the feed of this date, not LATEST"
        ),
    ] = None,
) -> None:
    """Presigned URLs of the latest email feed in the KALIDO_EXPORT_URL bucket mirror: the
    recommendations, then the other files, manifest.json last (it holds their sha256)."""
    from kalido.stores.email_feed import (
        FEED_FILE,
        MANIFEST,
        FeedNotReady,
        verify_feed,
        verify_latest,
    )
    from kalido.stores.objectstore import open_store

    url = os.environ.get(EXPORT_URL_VARIABLE)
    if not url:
        raise ConfigError(f"{EXPORT_URL_VARIABLE} is not set: there is no bucket mirror to sign")
    feeds = Layout(default_home()).email_feed
    # The local feeds are what the mirror is made equal to after every publish and purge; their
    # manifests are checked, so no link is handed out for a feed being rewritten.
    try:
        checked = verify_feed(feeds / f"dt={feed_date}") if feed_date else verify_latest(feeds)
    except FeedNotReady as exc:
        raise ConfigError(f"no feed to sign: {exc}") from None
    fs, root = open_store(EXPORT_URL_VARIABLE, url)
    local = feeds / checked["feed"]
    names = [p.name for p in sorted(local.iterdir()) if p.is_file() and p.name != MANIFEST]
    names = sorted(names, key=lambda name: name != FEED_FILE) + [MANIFEST]
    remote = f"{root.rstrip('/')}/email_recommendations/{checked['feed']}"
    try:
        links = {name: fs.sign(f"{remote}/{name}", expiration=expires) for name in names}
    except NotImplementedError:
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        print(
            f"kalido: feed-url: the {protocol}:// store cannot sign URLs ({EXPORT_URL_VARIABLE} "
            "must be a cloud store: s3://, gs:// or abfs://)",
            file=sys.stderr,
        )
        raise typer.Exit(2) from None
    except Exception as exc:  # noqa: BLE001 - credentials missing, say; never quote the URL
        print(f"kalido: feed-url: the store could not sign ({type(exc).__name__})", file=sys.stderr)
        raise typer.Exit(2) from None
    print(
        f"feed {checked['logical_date']} (revision {checked['revision']}), links valid {expires} s:"
    )
    for name, link in links.items():
        print(f"{name}\t{link}")


@app.command("import-events")
def import_events(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="the log; several files of one log make one zone"),
    ],
    out: Annotated[Path, typer.Option(help="the zone's home: files go to OUT/landing")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="default: each file's own, recognised from its header (an unknown name is "
            "refused with the list of formats)",
        ),
    ] = "auto",
    categories: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE...",
            help="item;category map (e.g. DIGINETICA), or RetailRocket's item_properties files",
        ),
    ] = None,
    start_date: Annotated[
        date,
        typer.Option(parser=_date, metavar="YYYY-MM-DD", help="sequences only: the first day"),
    ] = date(2016, 1, 1),
    days: Annotated[int, typer.Option(min=1, help="sequences only: days spanned")] = 90,
) -> None:
    """Convert a public events log into a landing zone under OUT/landing."""
    from kalido.policy import load_policy
    from kalido.tools.importers import ImportFormatError
    from kalido.tools.importers import import_events as import_log

    with _traceback_kept_in(out, "import-events"):
        try:
            summary = import_log(
                files,
                out,
                fmt=fmt,
                categories=categories or None,
                timezone=load_policy(policy_path()).business_timezone,
                start=start_date,
                days=days,
            )
        except (ImportFormatError, OSError) as exc:
            print(f"kalido: import-events: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
    print(
        f"imported {summary.format}: rows read {summary.rows_read}, skipped "
        f"{summary.rows_skipped}; wrote {summary.files} files to {out / 'landing'} for "
        f"{summary.first_day}..{summary.last_day}: "
        + ", ".join(f"{source} {n}" for source, n in summary.rows.items())
    )
    print(f"next: kalido evaluate --home {out} --split-date <a day before {summary.last_day}>")


@app.command()
def evaluate(
    home: Annotated[Path, typer.Option(help="a directory holding landing/")],
    split_date: Annotated[
        str, typer.Option(help="YYYY-MM-DD (local midnight) or an ISO timestamp")
    ],
    horizon: Annotated[float, typer.Option(help="days after the split")] = 7.0,
) -> None:
    """Offline evaluation of the recommender vs baselines on a temporal split."""
    from kalido.policy import load_policy
    from kalido.tools.evaluation import EvaluationBusy, markdown, split_instant
    from kalido.tools.evaluation import evaluate as evaluate_split

    policy = load_policy(policy_path())
    try:
        split_instant(split_date, policy.business_timezone)
    except ValueError:
        print(
            "kalido: evaluate: --split-date must be YYYY-MM-DD or an ISO timestamp", file=sys.stderr
        )
        raise typer.Exit(2) from None
    if not (home / "landing").is_dir() or horizon <= 0:
        print("kalido: evaluate: --home must hold landing/ and --horizon be > 0", file=sys.stderr)
        raise typer.Exit(2) from None
    with _traceback_kept_in(home, "evaluate"):
        try:
            report = evaluate_split(home, split_date, horizon, policy)
        except EvaluationBusy as exc:
            print(f"kalido: evaluate: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
    print(markdown(report))
    print(f"written: {home / 'evaluation' / 'report.md'} and report.json")


@app.command()
def report(
    date_from: Annotated[
        str, typer.Option("--from", metavar="YYYY-MM-DD", help="the period's first day")
    ],
    date_to: Annotated[
        str, typer.Option("--to", metavar="YYYY-MM-DD", help="the period's last day")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="default: KALIDO_HOME/reports/dpo/<from>_<to>/", show_default=False),
    ] = None,
) -> None:
    """The DPO's evidence for a period: report.html and report.json."""
    from kalido.pipelines.report import parse_period, write_report
    from kalido.stores.runs import keep_traceback

    # Dates are checked by the report itself: a bad one is one line and exit 2, like any error.
    start, end = parse_period(date_from, date_to)
    try:
        result = write_report(start, end, out)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - no run records a report: its traceback goes here
        trace = keep_traceback(Layout(default_home()), f"report__{start}_{end}", exc)
        where = f"traceback in {trace}" if trace else "no traceback could be written"
        print(f"kalido: report failed ({type(exc).__name__}); {where}", file=sys.stderr)
        raise typer.Exit(1) from None
    findings = result["findings"]
    print(f"report for {start}..{end}: {result['out']}/report.html (and report.json)")
    print(
        f"  requests failed, overdue or late {findings['requests_failed_overdue_or_late']}; "
        f"retention rules overdue {len(findings['retention_rules_overdue'])}; runs failed or "
        f"abandoned {findings['runs_failed_or_abandoned']}; nights not published "
        f"{findings['nights_not_published']}; warnings {findings['warnings']}"
    )


@contextmanager
def _traceback_kept_in(home: Path, command: str):
    """import-events and evaluate: no nightly run records them, so an unexpected error keeps its
    traceback in their own zone (HOME/restricted/logs) and exits 1."""
    try:
        yield
    except (ConfigError, typer.Exit):  # said already, or said by main()
        raise
    except Exception as exc:
        if getattr(exc, "safe_message", None):
            raise  # main() says it: it was written to hold no personal data
        from kalido.stores.runs import keep_traceback

        trace = keep_traceback(Layout(home), command, exc)
        where = f"traceback in {trace}" if trace else "no traceback could be written"
        print(f"kalido: {command} failed ({type(exc).__name__}); {where}", file=sys.stderr)
        raise typer.Exit(1) from None


# argparse took several values after --categories (nargs="+"); click takes one per option.
_MANY_VALUES = {"import-events": "--categories"}


def _one_value_per_option(argv: list[str]) -> list[str]:
    """`--categories A B` as `--categories A --categories B`, as the argparse CLI accepted."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    option = _MANY_VALUES.get(command)
    if option not in argv:
        return argv
    out: list[str] = []
    taking = False
    for arg in argv:
        if arg == option:
            taking = True
            continue
        if taking and not arg.startswith("-"):
            out += [option, arg]
            continue
        taking = False
        out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    """The `kalido` command; returns its exit status."""
    argv = _one_value_per_option(list(sys.argv[1:] if argv is None else argv))
    level_before = os.environ.get(lifeline.LOG_LEVEL_VARIABLE)
    try:
        # Typer reports usage errors itself (exit 2) and ends with SystemExit; the commands'
        # own errors come through as they are.
        typer.main.get_command(app).main(args=argv, prog_name="kalido", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except RunInProgress as exc:
        print(f"kalido: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"kalido: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the traceback is kept in restricted/logs
        safe_message = getattr(exc, "safe_message", None)  # written to hold no personal data
        if safe_message:
            print(f"kalido: run failed: {safe_message}", file=sys.stderr)
            return 1
        print(
            f"kalido: run failed ({type(exc).__name__}); traceback in restricted/logs, "
            "run recorded as failed in runs/",
            file=sys.stderr,
        )
        return 1
    finally:
        if level_before is None:
            os.environ.pop(lifeline.LOG_LEVEL_VARIABLE, None)
        else:
            os.environ[lifeline.LOG_LEVEL_VARIABLE] = level_before
    return 0


if __name__ == "__main__":
    sys.exit(main())
