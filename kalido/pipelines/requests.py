"""Data-subject requests after features are built: access exports and the overdue check.

Erasure, objection, restriction and rectification are applied by the purge stage (before anything
is derived); access and portability need the profile and recommendations, so they are answered
here, before publish. `check_requests` runs last and fails the run when a request is overdue or
failed, or an erasure's bytes outlive its due date (request_log.bytes_removed_on, see purge.py),
after the warehouse and feed are published.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

from kalido.config import Settings
from kalido.db import attach, connect, run_sql, write_text_whole
from kalido.policy import Policy
from kalido.stores import raw_browsing
from kalido.stores.shards import attach_work

log = logging.getLogger(__name__)

ACCESS_SECTIONS = (
    "account",
    "consents",
    "cookies",
    "views",
    "orders",
    "interests",
    "recommendations",
    "processing",
    "requests",
    "ad_profile",
)


class RequestsNeedAttention(Exception):
    """Some data-subject request is overdue or failed, or a request id was reused by another
    request (the message holds request pseudonyms and counts only)."""


# A request id that is a short plain token names its export file as it is; any other gets a
# cleaned prefix and its keyed pseudonym after a '.', which no plain token holds: two requests
# never share a file ('ACC/1' and 'ACC_1' once both wrote ACC_1.json).
PLAIN_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def export_name(request_id: str, request_pid: str) -> str:
    """The subject-access file name of a request (without .json)."""
    if PLAIN_REQUEST_ID.match(request_id):
        return request_id
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "_", request_id)[:32].strip("_") or "request"
    return f"{prefix}.{request_pid}"


def _taken_by_another(path: Path, request_id: str) -> bool:
    """An export already written there for another request is never overwritten."""
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("request_id") != request_id
    except (OSError, ValueError, AttributeError):
        return True


def _rows(con, table: str) -> list[dict]:
    cursor = con.execute(f"select * from {table}")
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _policy_summary(policy: Policy) -> dict:
    return {
        "purposes": {
            name: {"legal_basis": p.legal_basis, "description": p.description}
            for name, p in policy.purposes.items()
        },
        "retention": {
            store.name: {
                "purpose": store.purpose,
                "legal_basis": store.legal_basis,
                "rules": [
                    {"after": r.after, "keep": _period_text(r.keep), "then": r.then}
                    for r in store.rules
                ],
            }
            for store in policy.retention.values()
            if store.personal_data
        },
    }


def _period_text(period) -> str | None:
    if period is None:
        return None
    parts = [(period.years, "Y"), (period.months, "M"), (period.days, "D")]
    return "P" + "".join(f"{n}{unit}" for n, unit in parts if n)


def _sections(con, settings: Settings, policy: Policy) -> dict[str, dict[str, list[dict]]]:
    """Every access section of every customer in access_open: section -> pid -> rows."""
    run_sql(
        con,
        "requests/subject_access",
        {
            "key_version": settings.key_version,
            "max_views": policy.profiling.max_recent_views_per_user,
        },
    )
    sections: dict[str, dict[str, list[dict]]] = {}
    for name in ACCESS_SECTIONS:
        by_pid = sections.setdefault(name, defaultdict(list))
        for row in _rows(con, f"access_{name}"):
            by_pid[row.pop("pid")].append(row)
    return sections


def _export(sections: dict, policy: Policy, request: dict, logical_date: date) -> dict:
    pid = request["customer_pid"]
    sections = {name: rows.get(pid, []) for name, rows in sections.items()}
    account = sections.pop("account")
    processing = sections.pop("processing")
    return {
        "request_id": request["request_id"],
        "type": request["type"],
        "generated_for": logical_date.isoformat(),
        "account": account[0] if account else None,
        "cookies": [row["cookie_id"] for row in sections.pop("cookies")],
        "consents": sections.pop("consents"),
        "recent_views": sections.pop("views"),
        "orders": sections.pop("orders"),
        "interest_profile": sections.pop("interests"),
        "recommendations": sections.pop("recommendations"),
        "processing": processing[0] if processing else None,
        # Per own cookie: may it be profiled for advertising (why not), its segments and why.
        "ad_profile": sections.pop("ad_profile"),
        "requests": sections.pop("requests"),
        "policy": _policy_summary(policy),
    }


def answer_access_requests(
    settings: Settings, policy: Policy, logical_date: date, run_id: str
) -> dict:
    """Write exports/subject_access/<request_id>.json for open access/portability requests."""
    layout = settings.layout
    out = layout.home / "exports" / "subject_access"
    written = 0
    with connect(timezone=policy.business_timezone, spill_dir=layout.spill) as con:
        attach(con, layout.raw_db, "raw", read_only=False)
        raw_browsing.open_view(con, layout)
        attach_work(con, layout)
        # The open requests, read once: listed here, and whose customers subject_access.sql reads.
        con.execute(
            "create or replace temp table access_open as"
            " select request_id, request_pid, type, customer_pid from raw.request_log"
            " where status = 'open' and type in ('access', 'portability')"
        )
        open_requests = _rows(con, "(select * from access_open order by request_id)")
        sections = _sections(con, settings, policy) if open_requests else {}
        for request in open_requests:
            document = _export(sections, policy, request, logical_date)
            out.mkdir(parents=True, exist_ok=True)
            name = export_name(request["request_id"], request["request_pid"])
            path = out / f"{name}.json"
            if _taken_by_another(path, request["request_id"]):
                con.execute(
                    "update raw.request_log set status = 'failed', run_id = $r,"
                    " note = 'export file name taken by another request' where request_id = $q",
                    {"r": run_id, "q": request["request_id"]},
                )
                log.error("access request %s: export name taken", request["request_pid"])
                continue
            write_text_whole(path, json.dumps(document, indent=2, default=str))
            con.execute(
                "update raw.request_log set status = 'completed', completed_on = $d, run_id = $r,"
                " rows_affected = $rows where request_id = $q",
                {
                    "d": logical_date,
                    "r": run_id,
                    "q": request["request_id"],
                    "rows": json.dumps({"subject_access_exports": 1}),
                },
            )
            written += 1
    log.info("answered %s access requests", written)
    return {"access_exports": written}


def request_status(settings: Settings, logical_date: date, run_id: str) -> dict:
    """Counts of the request log as of the logical date, and the ids that need attention."""
    with connect(settings.layout.raw_db, read_only=True) as con:
        run_sql(con, "requests/attention", {"logical_date": logical_date, "run_id": run_id})
        counts = dict(
            zip(
                (
                    "requests",
                    "open",
                    "completed",
                    "overdue",
                    "completed_late",
                    "failed",
                    "bytes_overdue",
                    "reused_ids",
                ),
                con.execute("select * from request_counts").fetchone(),
                strict=True,
            )
        )
        attention = [r[0] for r in con.execute("select request_pid from attention").fetchall()]
    return {**counts, "attention": attention}


def check_requests(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Fail the run (after publish) when a request is overdue, was answered late or failed, or
    an erasure's bytes are still in some retained file past its due date."""
    status = request_status(settings, logical_date, run_id)
    if status["attention"]:
        raise RequestsNeedAttention(
            f"{status['overdue']} overdue, {status['completed_late']} answered late, "
            f"{status['failed']} failed, {status['bytes_overdue']} erasures with bytes past due, "
            f"{status['reused_ids']} request ids reused: {', '.join(status['attention'][:20])}"
        )
    return status
