"""The `kalido` command: generate, run, demo, purge, rotate-key, import-events, evaluate, report."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
from datetime import date
from pathlib import Path

from kalido.config import ConfigError, Layout, RunInProgress, default_home, policy_path

log = logging.getLogger("kalido")

DEMO_SIZE = {"days": 14, "users": 2000, "products": 600}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date as YYYY-MM-DD") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kalido",
        description=__doc__,
        epilog="exit status: 0 success; 1 a failed run (recorded as failed); 2 a configuration "
        "error, or another run (run, purge, rotate-key) in progress on the same KALIDO_HOME: "
        "one line on stderr, nothing written",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every file and stage")
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write a synthetic landing zone under OUT/landing")
    gen.add_argument("--days", type=_positive, required=True)
    gen.add_argument("--users", type=_positive, required=True)
    gen.add_argument("--products", type=_positive, required=True)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--end-date", type=_date, default=None, help="last generated day")
    gen.add_argument("--bad-rate", type=float, default=0.005, help="share of bad input rows")

    run = commands.add_parser("run", help="the nightly pipeline for one logical date")
    run.add_argument("--date", type=_date, required=True, dest="logical_date")
    run.add_argument(
        "--shards",
        type=_positive,
        default=1,
        help="user-hash shards of the per-user stages (same outputs for any N; default 1)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="run every stage even when nothing changed since the last successful run of the date",
    )
    run.add_argument(
        "--replace-newer",
        action="store_true",
        help="backfill: publish this date's warehouse even over one built for a newer date (by "
        "default an older date publishes its feed and keeps the newer warehouse)",
    )

    commands.add_parser("demo", help="generate a sample landing zone and run the pipeline on it")

    purge = commands.add_parser("purge", help="apply erasures and retention rules as of a date")
    purge.add_argument("--date", type=_date, required=True, dest="logical_date")

    commands.add_parser(
        "rotate-key",
        help="re-key the identity table to KALIDO_PSEUDONYM_KEY / KALIDO_PSEUDONYM_KEY_VERSION",
    )
    imp = commands.add_parser(
        "import-events", help="convert a public events log into a landing zone under OUT/landing"
    )
    imp.add_argument(
        "file", type=Path, nargs="+", help="the log; several files of one log make one zone"
    )
    imp.add_argument("--out", type=Path, required=True)
    imp.add_argument(
        "--format",
        default="auto",
        help="default: each file's own, recognised from its header (an unknown name is "
        "refused with the list of formats)",
    )
    imp.add_argument(
        "--categories",
        type=Path,
        nargs="+",
        help="item;category map (e.g. DIGINETICA), or RetailRocket's item_properties files",
    )
    imp.add_argument("--start-date", type=_date, default=date(2016, 1, 1), help="sequences only")
    imp.add_argument("--days", type=_positive, default=90, help="sequences only: days spanned")

    ev = commands.add_parser(
        "evaluate", help="offline evaluation of the recommender vs baselines on a temporal split"
    )
    ev.add_argument("--home", type=Path, required=True, help="a directory holding landing/")
    ev.add_argument(
        "--split-date", required=True, help="YYYY-MM-DD (local midnight) or an ISO timestamp"
    )
    ev.add_argument("--horizon", type=float, default=7.0, help="days after the split (default 7)")

    rep = commands.add_parser(
        "report", help="the DPO's evidence for a period: report.html and report.json"
    )
    # Dates are checked by the report itself: a bad one is one line and exit 2, like any error.
    rep.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    rep.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    rep.add_argument(
        "--out", type=Path, default=None, help="default: KALIDO_HOME/reports/dpo/<from>_<to>/"
    )
    return parser


def _print_summary(record: dict, layout: Layout, seconds: float) -> None:
    stages = record["stages"]
    if record.get("unchanged_since"):
        print(
            f"run {record['run_id']}: {record['status']} in {seconds:.1f} s; nothing changed "
            f"since run {record['unchanged_since']}, so every stage was skipped "
            "(--force runs them)"
        )
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
    if "check_requests" in stages or "requests" in record:
        _print_requests(stages.get("check_requests") or record["requests"])
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


def _run(
    logical_date: date, shards: int = 1, force: bool = False, replace_newer: bool = False
) -> int:
    from kalido.pipelines import runs
    from kalido.pipelines.nightly import run_nightly
    from kalido.pipelines.requests import RequestsNeedAttention, request_status

    started = time.perf_counter()
    layout = Layout(default_home())
    try:
        record = run_nightly(logical_date, shards=shards, force=force, replace_newer=replace_newer)
    except RequestsNeedAttention:
        # Everything is published; the run fails so that late or failed requests get seen.
        from kalido.pipelines.nightly import preflight

        settings, _ = preflight()
        record = max(runs.all_runs(layout), key=lambda r: r.get("started_at") or "")
        record["requests"] = request_status(settings, logical_date, record["run_id"])
        _print_summary(record, layout, time.perf_counter() - started)
        return 1
    _print_summary(record, layout, time.perf_counter() - started)
    return 0


def _purge(logical_date: date) -> int:
    from kalido.pipelines.nightly import run_purge

    record = run_purge(logical_date)
    print(f"purge {record['run_id']}: {record['status']}")
    _print_purge(record["stages"]["purge"])
    return 0


def _rotate_key() -> int:
    from kalido.pipelines.nightly import run_rotation

    counts = run_rotation()
    print(
        f"rotated to key version {counts['key_version']}: {counts['identifiers']} identifiers "
        f"re-keyed, {counts['retired']} old pseudonyms retired; the next run publishes the "
        "warehouse under the new key"
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    from kalido.tools.generate import DEFAULT_END_DATE, generate_landing

    summary = generate_landing(
        args.out,
        days=args.days,
        users=args.users,
        products=args.products,
        seed=args.seed,
        end_date=args.end_date or DEFAULT_END_DATE,
        bad_rate=args.bad_rate,
    )
    print(
        f"wrote {summary.files} files to {summary.out / 'landing'} for "
        f"{summary.first_date}..{summary.last_date}; rows {summary.rows}"
    )
    print(f"next: KALIDO_HOME={summary.out} kalido run --date {summary.last_date}")
    return 0


def _import_events(args: argparse.Namespace) -> int:
    from kalido.policy import load_policy
    from kalido.tools.importers import ImportFormatError, import_events

    try:
        summary = import_events(
            args.file,
            args.out,
            fmt=args.format,
            categories=args.categories,
            timezone=load_policy(policy_path()).business_timezone,
            start=args.start_date,
            days=args.days,
        )
    except (ImportFormatError, OSError) as exc:
        print(f"kalido: import-events: {exc}", file=sys.stderr)
        return 2
    print(
        f"imported {summary.format}: rows read {summary.rows_read}, skipped "
        f"{summary.rows_skipped}; wrote {summary.files} files to {args.out / 'landing'} for "
        f"{summary.first_day}..{summary.last_day}: "
        + ", ".join(f"{source} {n}" for source, n in summary.rows.items())
    )
    print(f"next: kalido evaluate --home {args.out} --split-date <a day before {summary.last_day}>")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from kalido.policy import load_policy
    from kalido.tools.evaluation import EvaluationBusy, evaluate, markdown, split_instant

    policy = load_policy(policy_path())
    try:
        split_instant(args.split_date, policy.business_timezone)
    except ValueError:
        print(
            "kalido: evaluate: --split-date must be YYYY-MM-DD or an ISO timestamp", file=sys.stderr
        )
        return 2
    if not (args.home / "landing").is_dir() or args.horizon <= 0:
        print("kalido: evaluate: --home must hold landing/ and --horizon be > 0", file=sys.stderr)
        return 2
    try:
        report = evaluate(args.home, args.split_date, args.horizon, policy)
    except EvaluationBusy as exc:
        print(f"kalido: evaluate: {exc}", file=sys.stderr)
        return 2
    print(markdown(report))
    print(f"written: {args.home / 'evaluation' / 'report.md'} and report.json")
    return 0


def _report(args: argparse.Namespace) -> int:
    from kalido.pipelines.report import parse_period, write_report
    from kalido.pipelines.runs import keep_traceback

    start, end = parse_period(args.date_from, args.date_to)
    try:
        result = write_report(start, end, args.out)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - no run records a report: its traceback goes here
        trace = keep_traceback(Layout(default_home()), f"report__{start}_{end}", exc)
        where = f"traceback in {trace}" if trace else "no traceback could be written"
        print(f"kalido: report failed ({type(exc).__name__}); {where}", file=sys.stderr)
        return 1
    findings = result["findings"]
    print(f"report for {start}..{end}: {result['out']}/report.html (and report.json)")
    print(
        f"  requests failed, overdue or late {findings['requests_failed_overdue_or_late']}; "
        f"retention rules overdue {len(findings['retention_rules_overdue'])}; runs failed or "
        f"abandoned {findings['runs_failed_or_abandoned']}; nights not published "
        f"{findings['nights_not_published']}; warnings {findings['warnings']}"
    )
    return 0


def _demo() -> int:
    from kalido.tools.generate import DEFAULT_END_DATE, generate_landing

    home = default_home()
    if not os.environ.get("KALIDO_PSEUDONYM_KEY"):
        key_file = home / "restricted" / "demo_pseudonym_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32), encoding="utf-8")
            key_file.chmod(0o600)
        os.environ["KALIDO_PSEUDONYM_KEY"] = key_file.read_text(encoding="utf-8").strip()
        print(f"demo: no KALIDO_PSEUDONYM_KEY set, using the local demo key file {key_file}")
    summary = generate_landing(home, **DEMO_SIZE, end_date=DEFAULT_END_DATE)
    print(
        f"demo: sample landing zone {home / 'landing'} ({summary.files} files, "
        f"{summary.first_date}..{summary.last_date}, {DEMO_SIZE['users']} customers, "
        f"{DEMO_SIZE['products']} products)"
    )
    return _run(summary.last_date)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "generate":
            return _generate(args)
        if args.command == "run":
            return _run(args.logical_date, args.shards, args.force, args.replace_newer)
        if args.command == "purge":
            return _purge(args.logical_date)
        if args.command == "rotate-key":
            return _rotate_key()
        if args.command == "import-events":
            return _import_events(args)
        if args.command == "report":
            return _report(args)
        if args.command == "evaluate":
            return _evaluate(args)
        return _demo()
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
        own_home = {"import-events": "out", "evaluate": "home"}.get(args.command)
        if own_home:  # no nightly run records these: keep the traceback in their own zone
            from kalido.pipelines.runs import keep_traceback

            trace = keep_traceback(Layout(getattr(args, own_home)), args.command, exc)
            where = f"traceback in {trace}" if trace else "no traceback could be written"
            print(f"kalido: {args.command} failed ({type(exc).__name__}); {where}", file=sys.stderr)
            return 1
        print(
            f"kalido: run failed ({type(exc).__name__}); traceback in restricted/logs, "
            "run recorded as failed in runs/",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
