"""`make eval`: the offline evaluation on the real public logs (docs/evaluation.md's tables).

Each log is imported with `import-events` into OUT/<name>/ (once: an existing landing/ is reused)
and evaluated with the split and horizon the docs give; a log whose files are absent is skipped
with a message saying which file is missing. OUT/summary.md gathers the new-item HR@20 / MRR@20
of every method (held to k | unconstrained), kalido's paired lead over each baseline held to k,
and the weights each log's training night chose.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from kalido.config import PROJECT_ROOT, policy_path
from kalido.features.holdout import LEARN_MIN_PEOPLE
from kalido.policy import load_policy
from kalido.tools.evaluation import UNCONSTRAINED, difference_cell, evaluate
from kalido.tools.importers import import_events

DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"


@dataclass(frozen=True)
class Log:
    name: str
    files: tuple[str, ...]  # relative to the datasets folder
    split: str
    horizon: float
    categories: tuple[str, ...] = ()
    fmt: str = "auto"


LOGS = (
    Log(
        "rees46",
        ("rees46_multicategory_2019oct_sample/2019-Oct_first17434rows.csv",),
        "2019-10-01T02:30:00Z",
        1.0,
    ),
    Log("uci", ("uci_online_retail_sample/online_retail_first20k.csv",), "2010-12-09", 7.0),
    Log(
        "diginetica_buys",
        ("diginetica_cikm2016/train-purchases.csv",),
        "2016-05-18",
        30.0,
        categories=("diginetica_cikm2016/product-categories.csv",),
    ),
    Log(
        "diginetica_sequences",
        ("diginetica_cikm2016/recohut_diginetica_v3_sequences.csv",),
        "2016-03-18",
        14.0,
        fmt="sequences",
    ),
)
DEFAULT_LOGS = ("rees46", "uci", "diginetica_buys")


def run_log(log: Log, datasets: Path, out: Path) -> dict | None:
    """The log's report, or None (with a message) when one of its files is absent."""
    missing = [name for name in log.files + log.categories if not (datasets / name).is_file()]
    if missing:
        print(f"eval: skipping {log.name}: {datasets / missing[0]} is absent", flush=True)
        return None
    home = out / log.name
    policy = load_policy(policy_path())
    if not (home / "landing").is_dir():
        import_events(
            [datasets / name for name in log.files],
            home,
            fmt=log.fmt,
            categories=[datasets / name for name in log.categories] or None,
            timezone=policy.business_timezone,
        )
    print(f"eval: {log.name}: split {log.split}, horizon {log.horizon:g} days", flush=True)
    return evaluate(home, log.split, log.horizon, policy)


def _figures(row: dict) -> str:
    p = row["personal"]
    return f"{p['hr']:.3f} / {p['mrr']:.3f}"


def summary(reports: dict[str, dict]) -> str:
    """Markdown: per log, every method held to k | unconstrained, kalido's lead, the weights."""
    lines = ["# Offline evaluation on the real logs", ""]
    for name, report in reports.items():
        d, rows = report["data"], {r["method"]: r for r in report["methods"]}
        lines += [
            f"## {name}: {d['eval_users']} people, split {d['split']}, "
            f"horizon {d['horizon_days']:g} days",
            "",
            "| method | HR@20 / MRR@20 held to k | unconstrained | held to k minus kalido, "
            "HR@20 ± 95 % | MRR@20 ± 95 % |",
            "|---|---|---|---|---|",
        ]
        for method, row in rows.items():
            if method.endswith(UNCONSTRAINED):
                continue
            free = rows.get(method + UNCONSTRAINED)
            gaps = row.get("minus_kalido", {})
            cells = [
                difference_cell(gaps[key], digits=3) if key in gaps else ""
                for key in ("personal_hr", "personal_mrr")
            ]
            lines.append(
                f"| {method} | {_figures(row)} | {_figures(free) if free else ''} | "
                + " | ".join(cells)
                + " |"
            )
        kalido = rows["kalido"]
        weights = json.loads(d["features"].get("quality_weights") or "{}")
        learned = weights.pop("learned", {})
        moved = {n: e for n, e in learned.items() if e["chosen"] != e["prior"]}
        lines += [
            "",
            f"Repeats (any age) {kalido['repeats']:.3f}, within the discovery windows "
            f"{kalido['window_repeats']:.3f}. Learned on the training night's self-check "
            f"({d['features'].get('quality_users', 0)} people): "
            + (
                ", ".join(f"{n} {e['prior']:g} → {e['chosen']:g}" for n, e in moved.items())
                or (
                    "every weight kept its policy value"
                    if learned
                    else f"fewer than {LEARN_MIN_PEOPLE} people, the policy's values"
                )
            )
            + (
                " (best tries: "
                + ", ".join(
                    f"{n} {e['tried']:g} {e['gain']:+.3f}"
                    + (f" ± {e['ci95']:.3f}" if e["ci95"] is not None else "")
                    for n, e in learned.items()
                )
                + ")"
                if learned
                else ""
            )
            + ".",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "eval")
    parser.add_argument(
        "--logs",
        default=",".join(DEFAULT_LOGS),
        help="comma-separated, of: " + ", ".join(log.name for log in LOGS),
    )
    args = parser.parse_args(argv)
    wanted = [name for name in args.logs.split(",") if name]
    known = {log.name: log for log in LOGS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        print(f"eval: unknown log {unknown[0]} (known: {', '.join(known)})", file=sys.stderr)
        return 2
    reports = {}
    for name in wanted:
        report = run_log(known[name], args.datasets, args.out)
        if report is not None:
            reports[name] = report
    if not reports:
        print(f"eval: none of the logs is in {args.datasets}: nothing evaluated")
        return 0
    text = summary(reports)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"written: {args.out / 'summary.md'} (each log's report.md under {args.out}/<log>/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
