"""`make bench SIZE=S|M|L`: the nightly pipeline's cost per stage against a DuckDB-only floor.

Procedure, for a landing zone of DAYS generated days ending at D (generated once, kept as
generated beside the home in <SIZE>-<DAYS>d.landing, and linked into the home for each bench):
1. catch-up: run D-1 from an empty state (untimed; it ingests the history),
2. nightly: run D, one new day of files — per stage wall time, rows/s and peak memory,
3. empty day: run D again with no new files (the run finds nothing changed since step 2 and
   skips its stages, see kalido/stores/unchanged.py),
4. floor: DuckDB alone reads D's landing files and writes them as Parquet.

Every SQL statement of steps 2 and 3 is timed into <root>/statements-<SIZE>-<DAYS>d.log (SQL file
names and seconds only), to see inside a slow stage.

Every measured step runs in a fresh process, so its peak RSS (ru_maxrss) is its own. Rows/s is
the day's landing rows divided by the step's wall time, so stages compare on the same basis.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from queue import Empty

SIZES = {
    "S": {"users": 10_000, "products": 1_000},
    "M": {"users": 100_000, "products": 10_000},
    "L": {"users": 1_000_000, "products": 100_000},
}
BENCH_KEY = "bench-pseudonym-key-not-a-secret-0123456789abcdef"
STATEMENTS_LOG = "KALIDO_BENCH_STATEMENTS_LOG"  # read by the stage processes
LATE = "requests_need_attention"
# Everything a run writes; the landing zone is kept between benches.
STATE_DIRS = ("restricted", "work", "warehouse", "runs", "exports", "quality")
FLOOR_READERS = {
    "csv": "read_csv($files, all_varchar = true, union_by_name = true)",
    "jsonl": "read_json($files, format = 'newline_delimited', union_by_name = true, "
    "ignore_errors = true)",
}


def _child(queue, fn: Callable, args: tuple) -> None:
    started = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((result, seconds, peak_mb))


def measured(fn: Callable, *args) -> tuple[object, float, float]:
    """(result, wall seconds, peak RSS in MB) of fn(*args) run in a fresh process; a process
    that dies without a result (an exception, the OOM killer) fails the bench, never hangs it."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, fn, args))
    process.start()
    outcome = None
    while outcome is None:
        try:
            outcome = queue.get(timeout=1.0)
        except Empty:
            if process.is_alive():
                continue
            try:
                outcome = queue.get(timeout=1.0)  # put just before the process ended
            except Empty:
                process.join()
                raise RuntimeError(
                    f"{fn.__name__} failed with exit code {process.exitcode}"
                ) from None
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{fn.__name__} failed with exit code {process.exitcode}")
    return outcome


def _generate(home: Path, days: int, users: int, products: int) -> dict:
    from kalido.tools.generate import generate_landing

    summary = generate_landing(home, days=days, users=users, products=products)
    return {"files": summary.files, "rows": sum(summary.rows.values())}


def _run_stage(stage: str, logical_date: date, run_id: str) -> dict:
    from kalido.pipelines.nightly import run_stage

    handler = logging.FileHandler(os.environ[STATEMENTS_LOG], encoding="utf-8")
    handler.setFormatter(logging.Formatter(f"{run_id} {stage} %(message)s"))
    statements = logging.getLogger("kalido.db")  # logs "sql <file> #<n>: <seconds> s" at debug
    statements.setLevel(logging.DEBUG)
    statements.addHandler(handler)
    return _noting_late_requests(run_stage, stage, logical_date, run_id)


def _run_all(logical_date: date) -> dict:
    from kalido.pipelines.nightly import run_nightly

    return _noting_late_requests(run_nightly, logical_date)


def _noting_late_requests(run: Callable, *args) -> dict:
    """A zone of more than a month of days holds requests that the first run answers late, and
    rectifications open past their due date (one completes when the CRM delivers the corrected
    row, and the generated CRM does not always): the runs say so in their last stage, after
    every output is written. The bench notes the counts (the ids are in the run record) and
    goes on."""
    from kalido.pipelines.requests import RequestsNeedAttention

    try:
        return run(*args) or {}
    except RequestsNeedAttention as late:
        return {LATE: str(late).split(":", 1)[0]}


def _floor(landing: Path, day: date, out: Path) -> int:
    """DuckDB alone: read every landing file of the day and write it as Parquet."""
    import duckdb

    rows = 0
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        for source_dir in sorted(landing.iterdir()):
            files = sorted(source_dir.glob(f"dt={day.isoformat()}/*"))
            for kind, reader in FLOOR_READERS.items():
                chosen = [str(f) for f in files if f.name.endswith((f".{kind}", f".{kind}.gz"))]
                if not chosen:
                    continue
                target = out / f"{source_dir.name}.{kind}.parquet"
                con.execute(
                    f"copy (select * from {reader}) to '{target}' (format parquet)",
                    {"files": chosen},
                )
                rows += con.execute(
                    "select count(*) from read_parquet($p)", {"p": str(target)}
                ).fetchone()[0]
    return rows


def run_bench(size: str, days: int, root: Path) -> dict:
    from kalido.pipelines.nightly import STAGES
    from kalido.tools.generate import DEFAULT_END_DATE

    home = root / f"{size}-{days}d"
    os.environ["KALIDO_HOME"] = str(home)
    os.environ["KALIDO_PSEUDONYM_KEY"] = BENCH_KEY
    day = DEFAULT_END_DATE
    result: dict = {
        "size": size,
        "days": days,
        "logical_date": day.isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **SIZES[size],
    }
    generated = root / f"{size}-{days}d.landing"
    if not generated.exists():
        if not (home / "landing").exists():
            summary, seconds, peak = measured(
                _generate, home, days, SIZES[size]["users"], SIZES[size]["products"]
            )
            result["generate"] = {"seconds": seconds, "peak_mb": peak, **summary}
            print(f"generate   {seconds:8.1f} s  {peak:8.0f} MB  {summary['rows']:>11,} rows")
        shutil.copytree(home / "landing", generated, copy_function=os.link)
    # Purge erases people from landing files, so every bench starts from the landing zone as
    # generated: hard links, free to make; a rewrite replaces a file, never writes through one.
    for name in (*STATE_DIRS, "landing"):
        shutil.rmtree(home / name, ignore_errors=True)
    shutil.copytree(generated, home / "landing", copy_function=os.link)

    noted, seconds, _ = measured(_run_all, day - timedelta(days=1))
    result["catch_up_seconds"] = seconds
    print(f"catch-up   {seconds:8.1f} s  (run {day - timedelta(days=1)}, untimed below)")
    if LATE in noted:
        result[f"catch_up_{LATE}"] = noted[LATE]
        print(f"           {LATE}: {noted[LATE]}")

    statements = root / f"statements-{size}-{days}d.log"
    statements.unlink(missing_ok=True)
    os.environ[STATEMENTS_LOG] = str(statements)
    for phase in ("nightly", "empty_day"):
        stages, rows, late = {}, None, {}
        for stage in STAGES:
            counts, seconds, peak = measured(_run_stage, stage, day, f"bench__{phase}")
            rows = counts.get("rows_read", 0) if stage == "ingest" else rows
            stages[stage] = {"seconds": seconds, "peak_mb": peak}
            if LATE in counts:
                late = {LATE: counts[LATE]}
        for numbers in stages.values():
            numbers["rows_per_second"] = rows / numbers["seconds"] if rows else 0
        total = sum(s["seconds"] for s in stages.values())
        result[phase] = {
            "rows": rows,
            "seconds": total,
            "peak_mb": max(s["peak_mb"] for s in stages.values()),
            "stages": stages,
            **late,
        }
        _print_phase(phase, result[phase])

    floor_rows, seconds, peak = measured(_floor, home / "landing", day, root / "floor")
    result["floor"] = {"rows": floor_rows, "seconds": seconds, "peak_mb": peak}
    result["ratio_to_floor"] = result["nightly"]["seconds"] / seconds
    print(f"floor      {seconds:8.1f} s  {peak:8.0f} MB  {floor_rows:>11,} rows (DuckDB → Parquet)")
    print(f"nightly / floor = {result['ratio_to_floor']:.2f}")
    shutil.rmtree(root / "floor", ignore_errors=True)
    return result


def _print_phase(phase: str, numbers: dict) -> None:
    print(f"{phase}: {numbers['rows'] or 0:,} landing rows")
    for stage, s in numbers["stages"].items():
        print(
            f"  {stage:<15}{s['seconds']:8.1f} s  {s['peak_mb']:8.0f} MB  "
            f"{s['rows_per_second']:>12,.0f} rows/s"
        )
    print(f"  {'total':<15}{numbers['seconds']:8.1f} s  {numbers['peak_mb']:8.0f} MB")
    if LATE in numbers:
        print(f"  {LATE}: {numbers[LATE]}")


def _days_list(text: str) -> list[int]:
    try:
        days = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError("expected days as N or N,N,...") from None
    if days[0] < 2:
        raise argparse.ArgumentTypeError("a bench needs at least 2 days (history, then the night)")
    return days


def _print_histories(size: str, results: list[dict]) -> None:
    """The same night after each history: its cost should not grow with the history kept."""
    base = results[0]["nightly"]["seconds"]
    print(f"\nthe night of {results[0]['logical_date']} at {size} after each history:")
    print(f"  {'history':>8} {'night s':>9} {'x shortest':>10} {'peak MB':>9} {'x floor':>8}")
    for result in results:
        night = result["nightly"]
        print(
            f"  {result['days'] - 1:>6} d {night['seconds']:9.1f} {night['seconds'] / base:10.2f} "
            f"{night['peak_mb']:9.0f} {result['ratio_to_floor']:8.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kalido.tools.bench", description=__doc__)
    parser.add_argument("--size", choices=SIZES, default="S")
    parser.add_argument(
        "--days",
        type=_days_list,
        default=[3],
        help="generated days, or a comma-separated list (3,30,60,90) to compare histories",
    )
    parser.add_argument("--root", type=Path, default=Path(".bench"))
    args = parser.parse_args(argv)
    results = []
    for days in args.days:
        print(f"== {args.size}, {days} days ==")
        result = run_bench(args.size, days, args.root.resolve())
        out = args.root / f"result-{args.size}-{days}d.json"
        out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"results: {out}")
        results.append(result)
    if len(results) > 1:
        _print_histories(args.size, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
