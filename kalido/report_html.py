"""The DPO report (pipelines/report.py) as one self-contained HTML page.

Inline CSS and SVG charts, no script and nothing fetched: a Content-Security-Policy forbids any
load, so the page reads the same offline, from an archive or an email attachment. It shows the
facts of report.json and nothing else (every value is escaped: none is trusted markup).
"""

from __future__ import annotations

import re
from html import escape

COLOURS = {
    "ok": "#2f855a",
    "bad": "#c53030",
    "series": ("#2b6cb0", "#d69e2e", "#805ad5", "#319795"),
    "grid": "#cbd5e0",
    "text": "#1a202c",
}
CLOCK_TEXT = {
    "last_activity": "after the customer's last activity",
    "event": "after the event",
    "first_ad_grant": "after the cookie's first advertising grant",
    "ingested": "after ingestion",
    "superseded": "after a newer one replaced it",
    "latest_order": "after the latest order",
    "completed": "after completion",
    "file_time": "after the file's date",
    "rebuilt": "rebuilt by every run",
    "referenced": "while another store holds the identifier",
    "never": "kept (no personal data)",
}
STATE_CLASS = {
    "failed": "bad",
    "overdue": "bad",
    "late": "bad",
    "open": "neutral",
    "on time": "ok",
    "within limit": "ok",
    "empty": "neutral",
    "not measured": "neutral",
    "untimed": "neutral",
}
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1a202c; margin: 0 auto; max-width: 1100px;
       padding: 24px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 2px solid #2b6cb0;
     padding-bottom: 4px; } h3 { margin-top: 20px; }
table { border-collapse: collapse; margin: 8px 0 16px; width: 100%; }
th, td { border: 1px solid #cbd5e0; padding: 4px 8px; text-align: left; vertical-align: top; }
.scroll { overflow-x: auto; }
th { background: #ebf4ff; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, .hash { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
.badge { border-radius: 4px; padding: 1px 6px; color: #fff; white-space: nowrap; }
.ok { background: #2f855a; } .bad { background: #c53030; } .neutral { background: #718096; }
.findings { border: 1px solid #cbd5e0; background: #f7fafc; padding: 8px 16px; }
.findings li.bad { background: none; color: #c53030; font-weight: 600; }
.findings li.ok { background: none; color: #2f855a; }
.meta { color: #4a5568; } nav a { margin-right: 12px; } svg { display: block; margin: 8px 0; }
ul.tight { margin: 0; padding-left: 18px; }
"""


def render(report: dict) -> str:
    """The page for one report document (the content of report.json)."""
    period = report["period"]
    title = f"KALIDO data protection report, {period['from']} to {period['to']}"
    body = [
        f"<h1>{escape(title)}</h1>",
        '<p class="meta">Generated at '
        f"{escape(report['generated_at'])} from the stores of KALIDO_HOME; retention judged as "
        f"of {escape(period['as_of'])}. Pseudonyms and counts only: requests are named by their "
        "request pseudonym, never by their id.</p>",
        _nav(),
        _findings(report["findings"]),
        _record(report["record_of_processing"]),
        _requests(report["requests"]),
        _retention(report["retention"]),
        _consent(report["consent"]),
        _shared(report["shared"]),
        _quality(report["quality"]),
        _integrity(report["integrity"]),
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        # Nothing may be fetched: the page is complete as it is.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# --- building blocks ----------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


def _cell(value) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="n">{value}</td>'
    if isinstance(value, _Html):
        return f"<td>{value}</td>"
    return f"<td>{escape(_text(value))}</td>"


class _Html(str):
    """Markup built here from escaped values: placed in a cell as is."""


def _code(value) -> _Html | None:
    """A run id, a store name: monospace, and it may break anywhere (run ids are long)."""
    return None if value is None else _Html(f"<code>{escape(str(value))}</code>")


def _badge(state: str) -> _Html:
    return _Html(f'<span class="badge {STATE_CLASS.get(state, "neutral")}">{escape(state)}</span>')


def _table(headers: list[str], rows: list[list], table_id: str | None = None) -> str:
    if not rows:
        return '<p class="meta">None in the period.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    ident = f' id="{table_id}"' if table_id else ""
    table = f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _period_text(keep: str | None) -> str:
    if not keep:
        return ""
    units = {"Y": "year", "M": "month", "D": "day"}
    parts = [
        f"{n} {units[u]}{'s' if int(n) != 1 else ''}" for n, u in re.findall(r"(\d+)([YMD])", keep)
    ]
    return " ".join(parts) or keep


def _rule_text(rule: dict) -> str:
    text = CLOCK_TEXT.get(rule["after"], rule["after"])
    if rule.get("keep") == "P0D":
        text = f"at once {text}"
    elif rule.get("keep"):
        text = f"{_period_text(rule['keep'])} {text}"
    if rule.get("then"):
        text += f", then {rule['then']}"
    return text


def _section(anchor: str, title: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>' + "".join(parts) + "</section>"


SECTIONS = (
    ("record", "1. Record of processing (GDPR art. 30)"),
    ("requests", "2. Data-subject requests"),
    ("retention", "3. Retention executed"),
    ("consent", "4. Consent and eligibility"),
    ("shared", "5. What was shared"),
    ("quality", "6. Data quality and incidents"),
    ("integrity", "7. Integrity"),
)


def _nav() -> str:
    return "<nav>" + "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in SECTIONS) + "</nav>"


# --- charts -------------------------------------------------------------------------------------


def _retention_chart(rules: list[dict]) -> str:
    """Horizontal bars: each rule's oldest held age as a share of its limit (the dashed line)."""
    shown = [r for r in rules if r.get("held")]
    if not shown:
        return '<p class="meta">No store holds anything under a timed rule.</p>'
    label_w, plot_w, row_h, top = 300, 460, 22, 28
    width, height = label_w + plot_w + 150, top + row_h * len(shown) + 10
    scale = 1.5  # the axis runs to 150 % of the limit; older is drawn at the end, in red
    parts = [
        f'<svg id="retention-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" aria-label="Oldest held against the limit, per rule">',
        f'<text x="{label_w}" y="14" font-size="12" fill="{COLOURS["text"]}">'
        "oldest held, as a share of the rule's limit</text>",
    ]
    limit_x = label_w + plot_w / scale
    for i, rule in enumerate(shown):
        y = top + i * row_h
        age, limit = rule.get("oldest_age_days") or 0, max(rule.get("limit_days") or 1, 1)
        share = min(max(age, 0) / limit, scale)
        colour = COLOURS["bad"] if rule["status"] == "overdue" else COLOURS["ok"]
        label = f"{rule['store']} · {rule['clock']}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end" '
            f'fill="{COLOURS["text"]}">{escape(label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" '
            f'width="{max(share / scale * plot_w, 2):.1f}"'
            f' height="{row_h - 6}" fill="{colour}"><title>{escape(label)}: oldest {age} days, '
            f"limit {limit} days</title></rect>"
            f'<text x="{label_w + plot_w + 8}" y="{y + 15}" font-size="12" '
            f'fill="{COLOURS["text"]}">{age} d of {limit} d</text>'
        )
    parts.append(
        f'<line x1="{limit_x:.1f}" x2="{limit_x:.1f}" y1="{top - 4}" y2="{height - 6}" '
        f'stroke="{COLOURS["bad"]}" stroke-dasharray="4 3"/>'
        f'<text x="{limit_x + 4:.1f}" y="{top - 8}" font-size="11" fill="{COLOURS["bad"]}">'
        "limit</text></svg>"
    )
    return "".join(parts)


def _columns_chart(chart_id: str, title: str, days: list[str], series: list[tuple]) -> str:
    """Grouped columns per day; series: (name, values per day, None where nothing ran)."""
    values = [v for _, vs in series for v in vs if isinstance(v, int | float)]
    if not values:
        return f'<p class="meta">{escape(title)}: no run in the period recorded these.</p>'
    top_value = max(max(values), 1)
    left, plot_h, top, bottom = 56, 180, 34, 40
    group_w = max(min(720 / max(len(days), 1), 60), 12)
    width = left + group_w * len(days) + 20
    height = top + plot_h + bottom
    bar_w = max((group_w - 4) / len(series), 2)
    parts = [
        f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{max(width, 420):.0f}" '
        f'height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="14" font-size="12" fill="{COLOURS["text"]}">{escape(title)}</text>',
    ]
    for n, (name, _) in enumerate(series):  # legend
        x = left + n * 150
        colour = COLOURS["series"][n % len(COLOURS["series"])]
        parts.append(
            f'<rect x="{x}" y="20" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="29" font-size="11" fill="{COLOURS["text"]}">'
            f"{escape(name)}</text>"
        )
    for tick in (0, 0.5, 1):
        y = top + plot_h - tick * plot_h
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLOURS["grid"]}"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="{COLOURS["text"]}">{round(top_value * tick)}</text>'
        )
    every = max(1, round(len(days) / 15))  # at most ~15 day labels
    for d, day in enumerate(days):
        x0 = left + d * group_w + 2
        for n, (name, vs) in enumerate(series):
            value = vs[d]
            if not isinstance(value, int | float):
                continue
            h = value / top_value * plot_h
            colour = COLOURS["series"][n % len(COLOURS["series"])]
            parts.append(
                f'<rect class="bar" x="{x0 + n * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" fill="{colour}">'
                f"<title>{escape(day)} {escape(name)}: {value}</title></rect>"
            )
        if d % every == 0:
            parts.append(
                f'<text x="{x0 + (group_w - 4) / 2:.1f}" y="{top + plot_h + 14}" font-size="10" '
                f'text-anchor="middle" fill="{COLOURS["text"]}">{escape(day[5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


# --- sections -----------------------------------------------------------------------------------


def _findings(findings: dict) -> str:
    def item(bad: bool, text: str) -> str:
        return f'<li class="{"bad" if bad else "ok"}">{escape(text)}</li>'

    overdue = findings["retention_rules_overdue"]
    missing = findings["stores_missing_from_record"]
    items = [
        item(
            findings["requests_failed_overdue_or_late"] > 0,
            f"{findings['requests_failed_overdue_or_late']} request(s) failed, overdue or "
            "answered late",
        ),
        item(
            bool(overdue),
            "retention: "
            + (
                f"overdue in {', '.join(overdue)}"
                if overdue
                else "every store holds nothing older than its limit"
            )
            + f" (judged as of {findings['retention_as_of']}, last purge as of "
            f"{_text(findings['last_purge'])})",
        ),
        item(
            findings["runs_failed_or_abandoned"] > 0,
            f"{findings['runs_failed_or_abandoned']} run(s) failed or abandoned, "
            f"{findings['critical_failures']} stopped by a critical data-quality failure",
        ),
        item(
            findings["nights_not_published"] > 0,
            f"{findings['nights_not_published']} night(s) without a published run",
        ),
        item(findings["warnings"] > 0, f"{findings['warnings']} data-quality warning(s)"),
    ]
    if missing:
        items.append(item(True, f"stores holding personal data no purpose names: {missing}"))
    if findings["retention_rules_not_measured"]:
        names = ", ".join(findings["retention_rules_not_measured"])
        items.append(item(True, f"retention rules this report cannot measure: {names}"))
    return '<div class="findings"><h3>Findings</h3><ul>' + "".join(items) + "</ul></div>"


def _record(record: dict) -> str:
    rows = []
    for purpose in record["purposes"]:
        # Stores under the same rules share a line: the record stays readable.
        by_rules: dict[str, list[str]] = {}
        for store, rules in purpose["retention"].items():
            by_rules.setdefault("; ".join(_rule_text(rule) for rule in rules), []).append(store)
        retention = (
            '<ul class="tight">'
            + "".join(
                "<li>" + ", ".join(f"<code>{escape(s)}</code>" for s in stores) + ": "
                f"{escape(text)}</li>"
                for text, stores in by_rules.items()
            )
            + "</ul>"
        )
        rows.append(
            [
                _Html(
                    f"<strong>{escape(purpose['purpose'])}</strong><br>"
                    f"{escape(purpose['description'])}<br><em>{escape(purpose['kind'])}</em>"
                ),
                purpose["legal_basis"].replace("_", " "),
                purpose["data_subjects"],
                purpose["categories"],
                _Html(retention),
                purpose["recipients"] or "none outside KALIDO",
            ]
        )
    headers = [
        "Purpose",
        "Legal basis",
        "Data subjects",
        "Categories of data",
        "Stores and retention",
        "Recipients",
    ]
    gap = ""
    if record["unaccounted_stores"]:
        gap = (
            '<p><span class="badge bad">gap</span> Stores holding personal data that no purpose '
            f"names: {escape(', '.join(record['unaccounted_stores']))}</p>"
        )
    return _section(
        "record",
        SECTIONS[0][1],
        '<p class="meta">Generated from the policy file in use (its hash under Integrity).</p>',
        _table(headers, rows, "record-table"),
        gap,
    )


def _requests(requests: dict) -> str:
    totals = [
        [
            kind,
            *(
                counts[state]
                for state in ("received", "failed", "overdue", "late", "open", "on time")
            ),
        ]
        for kind, counts in requests["totals"].items()
    ]
    rows = []
    for entry in requests["listed"]:
        erasure = entry.get("erasure") or {}
        rows.append(
            [
                _Html(f"<code>{escape(entry['request'] or '')}</code>"),
                entry["type"] + (f" ({entry['purpose']})" if entry["purpose"] else ""),
                entry["received_on"],
                entry["due_on"],
                entry["answered_on"],
                _badge(entry["state"]),
                erasure.get("suppressed_from_outputs_on") if erasure else None,
                erasure.get("purged_on") if erasure else None,
                ", ".join(f"{k} {v}" for k, v in sorted(entry["rows_affected"].items())) or None,
                entry["note"],
            ]
        )
    headers = [
        "Request",
        "Type",
        "Received",
        "Due",
        "Answered",
        "State",
        "Out of outputs on",
        "Bytes gone on",
        "Rows affected",
        "Note",
    ]
    return _section(
        "requests",
        SECTIONS[1][1],
        f'<p class="meta">Received in the period; due {requests["due_within_months"]} calendar '
        f"month(s) after receipt; open requests judged as of {escape(requests['as_of'])}. "
        "Failed, overdue and late requests first. For an erasure: the day the person left the "
        "published outputs (warehouse and feed of the first run after the purge) and the day the "
        "purge deleted their rows and rewrote the files that held them (its purge report under "
        "Integrity).</p>",
        "<h3>Totals by type</h3>",
        _table(
            ["Type", "Received", "Failed", "Overdue", "Late", "Open", "On time"],
            totals,
            "request-totals",
        ),
        "<h3>Requests</h3>",
        _table(headers, rows, "requests-table"),
        f"<p>Requests quarantined because their id was already used (answered by hand): "
        f"{requests['reused_request_ids']}.</p>",
    )


def _retention(retention: dict) -> str:
    timed = [r for r in retention["rules"] if r["status"] != "untimed"]
    rows = [
        [
            _Html(f"<code>{escape(r['store'])}</code>"),
            _rule_text({"after": r["clock"], "keep": r["keep"]}),
            r.get("held"),
            r.get("unit"),
            r.get("oldest"),
            r.get("oldest_age_days"),
            r.get("limit_days"),
            r.get("overdue"),
            _badge(r["status"]),
        ]
        for r in timed
    ]
    untimed = [
        [_Html(f"<code>{escape(r['store'])}</code>"), r["meaning"]]
        for r in retention["rules"]
        if r["status"] == "untimed"
    ]
    removed = [
        [
            r["logical_date"],
            _Html(f"<code>{escape(r['store'])}</code>"),
            r["rows_removed"],
            r["files_removed"],
            r["files_rewritten"],
            r["rows_archived"],
        ]
        for r in retention["removed"]
    ]
    return _section(
        "retention",
        SECTIONS[2][1],
        f'<p class="meta">Oldest item each store still holds under each timed rule, as of '
        f"{escape(retention['as_of'])} (last purge as of {escape(_text(retention['last_purge']))}"
        "), measured on the stores as the purge measures it; overdue counts what the purge "
        "would remove that day.</p>",
        _retention_chart(timed),
        _table(
            [
                "Store",
                "Rule",
                "Held",
                "Unit",
                "Oldest (UTC)",
                "Age (days)",
                "Limit (days)",
                "Overdue",
                "Status",
            ],
            rows,
            "retention-table",
        ),
        "<h3>Removed per day</h3>",
        _table(
            ["Day", "Store", "Rows removed", "Files removed", "Files rewritten", "Rows archived"],
            removed,
            "removed-table",
        ),
        "<h3>Stores without a timed rule</h3>",
        _table(["Store", "Rule"], untimed),
    )


def _consent(consent: dict) -> str:
    days = [d["day"] for d in consent["days"]]
    chart = _columns_chart(
        "eligibility-chart",
        "people who may be profiled, mailed or ad-profiled, per day",
        days,
        [
            ("may be profiled", [d.get("may_profile") for d in consent["days"]]),
            ("may be mailed", [d.get("may_email") for d in consent["days"]]),
            ("may be ad-profiled", [d.get("may_ad_profile") for d in consent["days"]]),
        ],
    )
    ran = [d for d in consent["days"] if d.get("run_id")]
    rows = [
        [
            d["day"],
            _code(d["run_id"]),
            d.get("customers"),
            d.get("may_profile"),
            d.get("may_email"),
            d.get("may_ad_profile"),
        ]
        for d in ran
    ]
    headers = ["Day", "Run", "Customers", "May be profiled", "May be mailed", "May be ad-profiled"]
    causes = sorted({c for d in ran for c in d.get("exclusions") or {}})
    excluded = [[d["day"], *((d.get("exclusions") or {}).get(c) for c in causes)] for d in ran]
    ad_causes = sorted({c for d in ran for c in d.get("ad_exclusions") or {}})
    ad_excluded = [
        [d["day"], *((d.get("ad_exclusions") or {}).get(c) for c in ad_causes)] for d in ran
    ]
    one_each = any(d.get("exclusions_are_one_per_person") for d in consent["days"])
    choices = [
        [
            purpose,
            c["granted"],
            c["withdrawn"],
            c["customer_granted"],
            c["customer_withdrawn"],
            c["cookie_granted"],
            c["cookie_withdrawn"],
        ]
        for purpose, c in consent["choices_by_purpose"].items()
    ]
    return _section(
        "consent",
        SECTIONS[3][1],
        '<p class="meta">From the gate counts of each day\'s run (the last successful run of '
        "the day). Exclusions: "
        + (
            "one cause per person not mailed, the strongest first"
            if one_each
            else "flags that may overlap"
        )
        + ".</p>",
        chart,
        _table(headers, rows, "eligibility-table"),
        "<h3>Exclusions by cause</h3>",
        _table(["Day", *(c.replace("_", " ") for c in causes)], excluded, "exclusions-table"),
        "<h3>Advertising cookies left out, by cause</h3>",
        _table(["Day", *(c.replace("_", " ") for c in ad_causes)], ad_excluded),
        "<h3>Consent choices recorded in the period, per purpose</h3>",
        _table(
            [
                "Purpose",
                "Granted",
                "Withdrawn",
                "Customers granted",
                "Customers withdrew",
                "Cookies granted",
                "Cookies withdrew",
            ],
            choices,
            "choices-table",
        ),
    )


def _sha(value) -> _Html | None:
    if isinstance(value, str):
        return _Html(f'<span class="hash">{escape(value)}</span>')
    if isinstance(value, dict):
        return _Html(
            "<br>".join(
                f'{escape(k)}: <span class="hash">{escape(v)}</span>' for k, v in value.items()
            )
        )
    return None


def _shared(shared: dict) -> str:
    days = shared["days"]
    chart = _columns_chart(
        "shared-chart",
        "email feed recipients and ad-server memberships, per day",
        [d["day"] for d in days],
        [
            ("feed recipients", [_get(d, "email_feed", "recipients_at_publication") for d in days]),
            (
                "ad memberships",
                [_get(d, "ad_segments", "memberships_at_publication") for d in days],
            ),
        ],
    )
    feeds, exports, access = [], [], []
    for d in days:
        feed, ads = d["email_feed"], d["ad_segments"]
        if feed:
            manifest = feed.get("manifest") or {}
            now = manifest.get("rows") if feed.get("held") else "removed (retention)"
            feeds.append(_export_row(d, feed, ("recipients", "rows", "removals"), now))
        if ads:
            now = "held" if ads.get("held") else "removed (superseded)"
            exports.append(_export_row(d, ads, ("memberships", "segments"), now))
        if d["subject_access_exports"]:
            access.append([d["day"], _code(d["run_id"]), d["subject_access_exports"]])
    return _section(
        "shared",
        SECTIONS[4][1],
        '<p class="meta">Per day: the email feed as published (run record) and as held now (its '
        "manifest: a purge rewrites a held feed without the people who may no longer receive "
        "it, and its hash with it), the ad-server export, and the subject-access exports "
        "written (count only). Each manifest names the run that wrote its files.</p>",
        chart,
        "<h3>Email feed (email platform)</h3>",
        _table(
            ["Day", "Run", "Recipients", "Rows", "Removals", "Rows held now", "sha256 (now)"],
            feeds,
            "feed-table",
        ),
        "<h3>Ad-server export</h3>",
        _table(["Day", "Run", "Memberships", "Segments", "Export", "sha256"], exports, "ads-table"),
        "<h3>Subject-access exports written</h3>",
        _table(["Day", "Run", "Exports"], access, "access-table"),
        f"<p>Subject-access exports held now: {shared['subject_access_exports_held']}.</p>",
    )


def _export_row(day: dict, export: dict, counts: tuple[str, ...], now) -> list:
    """A day's row of a published export: its day and run, its counts as published (run record),
    what is held of it now, and the sha256 its manifest gives now."""
    return [
        day["day"],
        _code(day["run_id"]),
        *(export.get(f"{name}_at_publication") for name in counts),
        now,
        _sha((export.get("manifest") or {}).get("sha256")),
    ]


def _get(day: dict, part: str, name: str):
    return (day.get(part) or {}).get(name)


def _quality(quality: dict) -> str:
    ingest = [
        [
            r["source"],
            r["files"],
            r["files_not_ingested"],
            r["files_with_dropped_columns"],
            r["rows_read"],
            r["rows_loaded"],
            r["rows_quarantined"],
            r["duplicates_dropped"],
        ]
        for r in quality["ingest_by_source"]
    ]
    quarantine = [[r["source"], r["reason"], r["rows"]] for r in quality["quarantined_by_reason"]]
    incidents = [
        [r["logical_date"], _code(r["run_id"]), _badge(r["status"] or "unknown"), r["error"]]
        for r in quality["runs_failed_or_abandoned"]
    ]
    critical = [
        [
            r["logical_date"],
            _code(r["run_id"]),
            _Html("<br>".join(escape(str(f)) for f in r["failures"])),
        ]
        for r in quality["critical_failures"]
    ]
    warnings = [
        [
            r["logical_date"],
            _code(r["run_id"]),
            _Html("<br>".join(escape(str(w)) for w in r["warnings"])),
        ]
        for r in quality["warnings"]
    ]
    nights = quality["nights_not_published"]
    return _section(
        "quality",
        SECTIONS[5][1],
        "<h3>Rows ingested in the period, per source</h3>",
        _table(
            [
                "Source",
                "Files",
                "Files not ingested",
                "Files with dropped columns",
                "Rows read",
                "Loaded",
                "Quarantined",
                "Duplicates",
            ],
            ingest,
            "ingest-table",
        ),
        "<h3>Quarantined rows by source and reason</h3>",
        '<p class="meta">Rows still held (the quarantine keeps them 30 days).</p>',
        _table(["Source", "Reason", "Rows"], quarantine, "quarantine-table"),
        "<h3>Runs failed or abandoned</h3>",
        _table(["Day", "Run", "Status", "Error"], incidents, "incidents-table"),
        "<h3>Critical failures (nothing published)</h3>",
        _table(["Day", "Run", "Failures"], critical),
        "<h3>Warnings</h3>",
        _table(["Day", "Run", "Warnings"], warnings),
        "<h3>Nights without a published run</h3>",
        f"<p>{escape(', '.join(nights)) if nights else 'None.'}</p>",
        '<p class="meta">A later run reads every partition up to its own date: a missed night '
        "is caught up by the next published one.</p>",
    )


def _integrity(integrity: dict) -> str:
    policy = integrity["policy"]
    reports = [[r["name"], _sha(r["sha256"])] for r in integrity["purge_reports"]]
    return _section(
        "integrity",
        SECTIONS[6][1],
        f"<p>Policy file: {escape(policy['file'])}, sha256 "
        f'<span class="hash">{escape(policy["sha256"])}</span>.</p>',
        f"<h3>Runs read ({len(integrity['runs'])})</h3>",
        "<p>" + ", ".join(f"<code>{escape(r)}</code>" for r in integrity["runs"]) + "</p>",
        "<h3>Purge reports</h3>",
        _table(["Report", "sha256"], reports, "purge-reports-table"),
        "<h3>Stores read</h3>",
        "<ul>" + "".join(f"<li>{escape(s)}</li>" for s in integrity["stores_read"]) + "</ul>",
        '<p class="meta">Re-generating the report for the same period on the same stores gives '
        "the same report.json, except its generated_at.</p>",
    )
