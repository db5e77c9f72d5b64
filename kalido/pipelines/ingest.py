"""Ingest landing files into the restricted raw store, once per file, accounting for every row."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from kalido import raw_browsing
from kalido.config import Layout, Settings
from kalido.db import connect, run_sql
from kalido.policy import Policy
from kalido.pseudonyms import token

log = logging.getLogger(__name__)

EXTENSIONS = ("csv", "csv.gz", "jsonl", "jsonl.gz", "parquet")
PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
# Rows re-sent in another file are recognised as duplicates when first loaded from a partition at
# most this long before (see ingest/classify.sql); a whole re-sent file is caught by its checksum.
DEDUP_WINDOW = timedelta(days=35)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # a second row with the same key is a duplicate

    @property
    def raw_table(self) -> str:
        return f"raw_{self.name}"


SOURCES = {
    spec.name: spec
    for spec in (
        SourceSpec(
            "customers",
            (
                "customer_id",
                "email",
                "first_name",
                "last_name",
                "phone",
                "street",
                "postal_code",
                "city",
                "country",
                "birth_date",
                "gender",
                "created_at",
                "last_login_at",
                "updated_at",
                "account_status",
            ),
            ("customer_id", "updated_at"),
        ),
        SourceSpec(
            "consents",
            ("subject_type", "subject_id", "purpose", "status", "recorded_at", "source"),
            ("subject_type", "subject_id", "purpose", "status", "recorded_at"),
        ),
        SourceSpec(
            "browsing",
            (
                "event_id",
                "event_time",
                "event_type",
                "cookie_id",
                "customer_id",
                "session_id",
                "product_id",
                "page_url",
                "referrer",
                "ip_address",
                "user_agent",
            ),
            ("event_id",),
        ),
        SourceSpec(
            "orders",
            (
                "order_id",
                "line_no",
                "customer_id",
                "ordered_at",
                "product_id",
                "quantity",
                "unit_price",
                "currency",
                "channel",
                "status",
            ),
            ("order_id", "line_no"),
        ),
        SourceSpec(
            "products",
            (
                "product_id",
                "title",
                "category_path",
                "brand",
                "price",
                "currency",
                "in_stock",
                "url",
                "updated_at",
            ),
            ("product_id", "_partition_date"),
        ),
        SourceSpec(
            "requests",
            ("request_id", "customer_id", "type", "purpose", "received_at"),
            ("request_id",),
        ),
    )
}


@dataclass(frozen=True)
class LandingFile:
    source: SourceSpec
    partition_date: date
    path: Path
    relative_path: str
    extension: str


def _extension(path: Path) -> str | None:
    name = path.name.lower()
    return next((ext for ext in EXTENSIONS if name.endswith("." + ext)), None)


def discover(landing: Path, logical_date: date) -> tuple[list[LandingFile], list[str]]:
    """Landing files in partitions up to the logical date, in a fixed order; plus ignored paths."""
    found: list[LandingFile] = []
    ignored: list[str] = []
    for spec in SOURCES.values():
        source_dir = landing / spec.name
        if not source_dir.is_dir():
            continue
        for partition in sorted(source_dir.iterdir()):
            match = PARTITION.match(partition.name)
            if not partition.is_dir() or not match:
                ignored.append(str(partition.relative_to(landing)))
                continue
            try:
                partition_date = date.fromisoformat(match.group(1))
            except ValueError:
                ignored.append(str(partition.relative_to(landing)))
                continue
            if partition_date > logical_date:
                continue
            for path in sorted(p for p in partition.iterdir() if p.is_file()):
                if path.name.startswith("."):
                    continue  # files being written by the sender
                extension = _extension(path)
                relative = str(path.relative_to(landing))
                if extension is None:
                    ignored.append(relative)
                    continue
                found.append(LandingFile(spec, partition_date, path, relative, extension))
    return found, ignored


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        first = handle.readline()
    text = first.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)), [])
    names = [name.strip().lower() for name in header]
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise ValueError("CSV header is empty, has an empty or a repeated column name")
    return names


def _land(con: duckdb.DuckDBPyConnection, landing_file: LandingFile) -> None:
    """Fill temp tables `landed` (contract columns as text) and `rejected_rows`."""
    spec = landing_file.source
    path = str(landing_file.path)
    con.execute("drop table if exists kalido_rejects")
    con.execute("drop table if exists kalido_reject_scans")
    if landing_file.extension.startswith("jsonl"):
        structure = json.dumps({column: "VARCHAR" for column in spec.columns})
        run_sql(con, "ingest/landed_from_jsonl", {"path": path, "structure": structure})
    elif landing_file.extension.startswith("csv"):
        columns = {name: "VARCHAR" for name in _csv_header(landing_file.path)}
        run_sql(con, "ingest/landed_from_csv", {"path": path, "columns": columns})
    else:
        run_sql(con, "ingest/landed_from_parquet", {"path": path})
    for column in spec.columns:
        run_sql(con, "ingest/add_missing_column", identifiers={"column": column})


def _classify_file(
    con: duckdb.DuckDBPyConnection, landing_file: LandingFile, file_id: str, policy: Policy
) -> None:
    """Fill the temp table `classified`: each line of the file loaded, quarantined or duplicate.

    Outside any transaction: DuckDB builds temp tables inside one at half the speed, and only
    the writes of load_classified and the ledger need to be atomic."""
    spec = landing_file.source
    _land(con, landing_file)
    run_sql(
        con,
        f"ingest/validate_{spec.name}",
        {"purposes": sorted(policy.purposes)},
        identifiers={"columns": ", ".join(spec.columns)},
    )
    run_sql(
        con,
        "ingest/classify",
        {
            "partition_date": landing_file.partition_date,
            "dedup_since": landing_file.partition_date - DEDUP_WINDOW,
            "file_id": file_id,
        },
        identifiers={"key": ", ".join(spec.key), "raw_table": spec.raw_table},
    )


def _load_classified(
    con: duckdb.DuckDBPyConnection,
    layout: Layout,
    landing_file: LandingFile,
    file_id: str,
    run_id: str,
) -> dict[str, int]:
    spec = landing_file.source
    params = {
        "file_id": file_id,
        "source": spec.name,
        "run_id": run_id,
        "partition_date": landing_file.partition_date,
    }
    run_sql(con, "ingest/quarantine_rows", params)
    row = run_sql(con, "ingest/count_classified").fetchone()
    if spec.name == "browsing":
        # Outside the transaction, so last: nothing after it can fail and leave the rows of a
        # file the ledger calls failed. If the ledger's commit fails, the rerun overwrites it.
        target = raw_browsing.file_path(layout, landing_file.partition_date, file_id)
        raw_browsing.write(
            con,
            target,
            "ingest/load_browsing_file",
            params,
            identifiers={"columns": ", ".join(spec.columns)},
        )
        raw_browsing.open_view(con, layout)
    else:
        run_sql(con, "ingest/load_rows", params, identifiers={"raw_table": spec.raw_table})
    return dict(zip(ROW_COUNTS, row, strict=True))


ROW_COUNTS = ("rows_read", "rows_loaded", "rows_quarantined", "duplicates_dropped")
READ_ERRORS = (duckdb.Error, OSError, ValueError, EOFError, UnicodeDecodeError)


def ingest(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Load every new landing file up to the logical date into the restricted raw store
    (restricted/raw.duckdb; browsing into restricted/raw_browsing/)."""
    layout = settings.layout
    files, ignored = discover(layout.landing, logical_date)
    totals: dict = dict.fromkeys(
        ("files_ingested", "files_already_ingested", "files_duplicate_content", "files_failed"),
        0,
    )
    totals.update(dict.fromkeys(ROW_COUNTS, 0), files_seen=len(files), paths_ignored=len(ignored))
    per_source: dict[str, dict[str, int]] = {}
    for path in ignored:
        log.warning("ignored landing path (not a dt=YYYY-MM-DD partition or format): %s", path)
    raw_browsing.migrate_table(layout)
    with connect(layout.raw_db, timezone=policy.business_timezone) as con:
        # Every row carries its line number (_row), so nothing depends on the order rows are
        # stored in; keeping that order would make DuckDB read and write each file on one thread.
        con.execute("set preserve_insertion_order = false")
        run_sql(con, "ingest/create_raw_tables")
        raw_browsing.open_view(con, layout)
        for landing_file in files:
            sha = _sha256(landing_file.path)
            identity = f"{landing_file.relative_path}\0{sha}".encode()
            file_id = token(hashlib.sha256(identity).hexdigest()[:24])
            if run_sql(
                con,
                "ingest/ledger_has_file",
                {"file_id": file_id, "path": landing_file.relative_path, "sha256": sha},
            ).fetchone():
                totals["files_already_ingested"] += 1
                continue
            ledger = {
                "file_id": file_id,
                "source": landing_file.source.name,
                "partition_date": landing_file.partition_date,
                "path": landing_file.relative_path,
                "sha256": sha,
                "size_bytes": landing_file.path.stat().st_size,
                "run_id": run_id,
                "logical_date": logical_date,
                "error": None,
                **dict.fromkeys(ROW_COUNTS, 0),
            }
            same_content = run_sql(
                con, "ingest/ledger_has_content", {"source": ledger["source"], "sha256": sha}
            ).fetchone()
            counts, error = None, None
            if not same_content:
                try:
                    _classify_file(con, landing_file, file_id, policy)
                except READ_ERRORS as exc:
                    error = exc
            con.begin()
            if not same_content and error is None:
                try:
                    counts = _load_classified(con, layout, landing_file, file_id, run_id)
                except READ_ERRORS as exc:
                    con.rollback()
                    con.begin()
                    error = exc
            if same_content:
                # The same bytes under another name: a re-delivery, not new rows.
                ledger["status"] = "duplicate_content"
                totals["files_duplicate_content"] += 1
            elif error is not None:
                # The database's own message can quote file content: only its type is kept.
                ledger["status"] = "failed"
                ledger["error"] = f"file could not be read ({type(error).__name__})"
                totals["files_failed"] += 1
                log.error("landing file failed: %s: %s", ledger["path"], ledger["error"])
            else:
                ledger.update(counts, status="ingested")
                totals["files_ingested"] += 1
                source_totals = per_source.setdefault(
                    ledger["source"], dict.fromkeys(ROW_COUNTS, 0)
                )
                for name, value in counts.items():
                    totals[name] += value
                    source_totals[name] += value
                log.info("ingested %s: %s", ledger["path"], counts)
            run_sql(con, "ingest/record_ledger", ledger)
            con.commit()
    totals["by_source"] = per_source
    return totals
