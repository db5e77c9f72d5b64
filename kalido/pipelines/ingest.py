"""Ingest landing files into the restricted raw store, once per file, accounting for every row."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
from isal import igzip

from kalido import landing_text, quality
from kalido.config import Layout, Settings
from kalido.contract import EXTENSIONS, PARTITION, SOURCES, SourceSpec
from kalido.db import connect, run_sql
from kalido.policy import Policy
from kalido.pseudonyms import token
from kalido.stores import raw_browsing
from kalido.stores.landing_hashes import LandingHashes
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandingFile:
    source: SourceSpec
    partition_date: date
    path: Path
    relative_path: str
    extension: str
    refused: str | None = None  # why the path is never read (a symbolic link)


class FileQuarantined(Exception):
    """A whole file is quarantined; the message is a reason that quotes no file content."""


def _extension(path: Path) -> str | None:
    name = path.name.lower()
    return next((ext for ext in EXTENSIONS if name.endswith("." + ext)), None)


def discover(landing: Path, logical_date: date) -> tuple[list[LandingFile], list[str]]:
    """Landing files in partitions up to the logical date, in a fixed order; plus ignored paths.

    A symbolic link anywhere below landing/ is refused, never followed: it could lead outside
    the landing zone (a file of the system, another person's export), and an erasure that
    removed the link would leave the data behind."""
    found: list[LandingFile] = []
    ignored: list[str] = []

    def refuse(spec: SourceSpec, path: Path, partition_date: date) -> None:
        relative = str(path.relative_to(landing))
        found.append(LandingFile(spec, partition_date, path, relative, "", "symbolic link refused"))

    for spec in SOURCES.values():
        source_dir = landing / spec.name
        if source_dir.is_symlink():
            refuse(spec, source_dir, logical_date)
            continue
        if not source_dir.is_dir():
            continue
        for partition in sorted(source_dir.iterdir()):
            match = PARTITION.match(partition.name)
            try:
                partition_date = date.fromisoformat(match.group(1)) if match else None
            except ValueError:
                partition_date = None
            if partition_date is not None and partition_date > logical_date:
                continue
            if partition.is_symlink():
                refuse(spec, partition, partition_date or logical_date)
                continue
            if not partition.is_dir() or partition_date is None:
                ignored.append(str(partition.relative_to(landing)))
                continue
            for path in sorted(partition.iterdir()):
                if path.name.startswith("."):
                    continue  # files being written by the sender
                if path.is_symlink():
                    refuse(spec, path, partition_date)
                    continue
                extension = _extension(path)
                relative = str(path.relative_to(landing))
                if extension is None or not path.is_file():
                    ignored.append(relative)
                    continue
                found.append(LandingFile(spec, partition_date, path, relative, extension))
    return found, ignored


def _opener(extension: str):
    return igzip.open if extension.endswith(".gz") else open


def _check_complete(landing_file: LandingFile, path: Path) -> None:
    """A compressed file must decompress to its end: DuckDB reads a truncated .gz up to the cut
    without an error, which would load half a file as if it were whole."""
    if not landing_file.extension.endswith(".gz"):
        return
    try:
        with igzip.open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass
    except (OSError, EOFError, ValueError) as exc:
        raise FileQuarantined(f"compressed file is incomplete ({type(exc).__name__})") from None


def _csv_header(path: Path, extension: str) -> list[str]:
    with _opener(extension)(path, "rb") as handle:
        first = handle.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileQuarantined("CSV header is not UTF-8") from None
    header = next(csv.reader(io.StringIO(text)), [])
    names = [name.strip().lower() for name in header]
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise FileQuarantined("CSV header is empty, has an empty or a repeated column name")
    return names


def _read_whole(landing_file: LandingFile, path: Path) -> bytes:
    with _opener(landing_file.extension)(path, "rb") as handle:
        return handle.read()


def _from_python(con: duckdb.DuckDBPyConnection, sql: str, tables: dict) -> None:
    """Run an ingest SQL file over Arrow tables split in Python (landing_text.py)."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        run_sql(con, sql)
    finally:
        for name in tables:
            con.unregister(name)


def _land_jsonl(con: duckdb.DuckDBPyConnection, landing_file: LandingFile, path: Path) -> None:
    try:
        run_sql(con, "ingest/jsonl_lines", {"path": str(path)})
    except duckdb.InvalidInputException:
        lines, rejects = landing_text.split_lines(_read_whole(landing_file, path))
        _from_python(
            con,
            "ingest/jsonl_lines_from_python",
            {"python_lines": lines, "python_line_rejects": rejects},
        )
    structure = json.dumps({column: "VARCHAR" for column in landing_file.source.columns})
    run_sql(con, "ingest/landed_from_jsonl", {"structure": structure})


def _land_csv(con: duckdb.DuckDBPyConnection, landing_file: LandingFile, path: Path) -> None:
    header = _csv_header(path, landing_file.extension)
    try:
        run_sql(
            con,
            "ingest/landed_from_csv",
            {"path": str(path), "columns": dict.fromkeys(header, "VARCHAR")},
        )
        swallowed = con.execute(
            "select count(*) from kalido_rejects where contains(csv_line, chr(10))"
        ).fetchone()[0]
    except duckdb.InvalidInputException:
        swallowed = 1
    if swallowed:
        records = landing_text.split_records(_read_whole(landing_file, path), header)
        _from_python(
            con,
            "ingest/csv_from_python",
            {"python_records": records.table(), "python_line_rejects": records.rejects_table()},
        )


def _land(con: duckdb.DuckDBPyConnection, landing_file: LandingFile, path: Path) -> list[str]:
    """Fill temp tables `landed` (contract columns as text, `_card` for the whole row) and
    `rejected_rows` from `path`, a copy of the landing file; the file's columns outside the
    contract (dropped: nothing reads them after the card scan). DuckDB reads each file first;
    one its reader stops on, or splits wrongly (an unterminated quote swallows the lines after
    it), is split line by line by landing_text."""
    spec = landing_file.source
    _check_complete(landing_file, path)
    con.execute("drop table if exists kalido_rejects")
    con.execute("drop table if exists kalido_reject_scans")
    if landing_file.extension.startswith("jsonl"):
        _land_jsonl(con, landing_file, path)
        names = [row[0] for row in con.execute("select name from landed_columns").fetchall()]
    else:
        if landing_file.extension.startswith("csv"):
            _land_csv(con, landing_file, path)
        else:
            run_sql(con, "ingest/landed_from_parquet", {"path": str(path)})
        names = [row[0] for row in con.execute("describe landed").fetchall()]
        names = [name for name in names if name not in ("_row", "_card")]
        missing = [column for column in spec.required if column not in names]
        if missing:
            raise FileQuarantined(f"missing required column {', '.join(missing)}")
    for column in spec.columns:
        run_sql(con, "ingest/add_missing_column", identifiers={"column": column})
    return sorted(set(names) - set(spec.columns))


def _validation_params(
    logical_date: date, policy: Policy, qsettings: quality.QualitySettings
) -> dict:
    """The plausible window of a timestamp: nothing later than the quality suites allow after
    the logical day, no event older than their record horizon, no record before 1970. A value
    outside would break a later stage (pandas ends in 2262) on every night after."""
    day_end = day_end_utc(logical_date, policy.business_timezone)
    return {
        "purposes": sorted(policy.purposes),
        "logical_date": logical_date,
        "until": day_end + timedelta(hours=qsettings.hours_after),
        "events_since": day_end - timedelta(days=qsettings.records_days_before),
        "records_since": datetime(1970, 1, 1),
        "birth_dates_since": date(logical_date.year - qsettings.birth_years_before, 1, 1),
        "pii": personal_data_pattern(qsettings),
        "plain_id": PLAIN_ID,
        "duplicate_window": timedelta(days=policy.duplicate_window_days),
    }


def _classify_file(
    con: duckdb.DuckDBPyConnection,
    landing_file: LandingFile,
    path: Path,
    file_id: str,
    params: dict,
) -> list[str]:
    """Fill the temp table `classified`: each line of the file loaded, quarantined or duplicate;
    the columns dropped.

    Outside any transaction: DuckDB builds temp tables inside one at half the speed, and only
    the writes of load_classified and the ledger need to be atomic."""
    spec = landing_file.source
    dropped = _land(con, landing_file, path)
    run_sql(con, f"ingest/validate_{spec.name}", params)
    run_sql(
        con,
        "ingest/classify",
        {
            "partition_date": landing_file.partition_date,
            "dedup_since": landing_file.partition_date - params["duplicate_window"],
            "file_id": file_id,
        },
        identifiers={"key": ", ".join(spec.key), "raw_table": spec.raw_table},
    )
    if spec.name == "requests":
        run_sql(con, "ingest/classify_requests", {"file_id": file_id})
    return dropped


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


@contextmanager
def _literal_copy(layout: Layout, landing_file: LandingFile, file_id: str):
    """The file under a plain name in the restricted zone (a hard link, else a copy): DuckDB
    expands glob characters in the paths it reads ('*.csv', '[c]ustomers.csv'), so a landing
    name is never handed to it."""
    scratch = layout.restricted / "ingest_scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / f"{file_id}.{landing_file.extension}"
    copy.unlink(missing_ok=True)
    try:
        os.link(landing_file.path, copy)
    except OSError:
        shutil.copyfile(landing_file.path, copy)
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def _shown(name: str) -> str:
    """A column name as the ledger and the log may show it: a header can hold anything."""
    return name if PLAIN_COLUMN.match(name) else "(a column whose name is withheld)"


ROW_COUNTS = ("rows_read", "rows_loaded", "rows_quarantined", "duplicates_dropped")
READ_ERRORS = (duckdb.Error, OSError, ValueError, EOFError, UnicodeDecodeError)
PLAIN_COLUMN = re.compile(r"^[a-z0-9_]{1,64}$")
# Product ids are printable ASCII: a look-alike (a Cyrillic letter, a zero-width space, full-width
# digits, a NUL) would otherwise be a new product shown under the real one's title.
PLAIN_ID = r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$"


def personal_data_pattern(qsettings: quality.QualitySettings) -> str:
    """The quality suites' personal-data patterns as one RE2 pattern (card numbers aside: they
    are found with their checksum, kalido.cards)."""
    return "|".join(
        f"(?:{pattern})"
        for name, pattern in qsettings.pii_patterns.items()
        if name != "card_number"
    )


def shown_path(relative_path: str, pii: re.Pattern) -> str:
    """A landing path as logs and the warehouse may show it (a file name can hold an email)."""
    return pii.sub("(withheld)", relative_path)


def ingest(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Load every new landing file up to the logical date into the restricted raw store
    (restricted/raw.duckdb; browsing into restricted/raw_browsing/)."""
    layout = settings.layout
    qsettings = quality.load_settings()
    pii = re.compile(personal_data_pattern(qsettings))
    params = _validation_params(logical_date, policy, qsettings)
    files, ignored = discover(layout.landing, logical_date)
    totals: dict = dict.fromkeys(
        (
            "files_ingested",
            "files_already_ingested",
            "files_duplicate_content",
            "files_failed",
            "files_refused",
            "files_with_dropped_columns",
        ),
        0,
    )
    totals.update(dict.fromkeys(ROW_COUNTS, 0), files_seen=len(files), paths_ignored=len(ignored))
    per_source: dict[str, dict[str, int]] = {}
    for path in ignored:
        log.warning(
            "ignored landing path (not a dt=YYYY-MM-DD partition or format): %s",
            shown_path(path, pii),
        )
    raw_browsing.migrate_table(layout)
    with connect(layout.raw_db, timezone=policy.business_timezone) as con:
        # Every row carries its line number (_row), so nothing depends on the order rows are
        # stored in; keeping that order would make DuckDB read and write each file on one thread.
        con.execute("set preserve_insertion_order = false")
        run_sql(con, "ingest/create_raw_tables")
        raw_browsing.open_view(con, layout)
        hashes = LandingHashes(layout)
        for landing_file in files:
            shown = shown_path(landing_file.relative_path, pii)
            if landing_file.refused:
                sha, size = "", 0
            else:
                sha = hashes.sha256(landing_file.path, landing_file.relative_path)
                size = landing_file.path.stat().st_size
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
                "size_bytes": size,
                "run_id": run_id,
                "logical_date": logical_date,
                "error": landing_file.refused,
                "dropped_columns": None,
                "shown_path": shown,
                **dict.fromkeys(ROW_COUNTS, 0),
            }
            same_content = (
                not landing_file.refused
                and run_sql(
                    con, "ingest/ledger_has_content", {"source": ledger["source"], "sha256": sha}
                ).fetchone()
            )
            counts, error, dropped = None, None, []
            if not same_content and not landing_file.refused:
                try:
                    with _literal_copy(layout, landing_file, file_id) as copy:
                        dropped = _classify_file(
                            con,
                            landing_file,
                            copy,
                            file_id,
                            params,
                        )
                except FileQuarantined as exc:
                    error = str(exc)
                except READ_ERRORS as exc:
                    # The database's own message can quote file content: only its type is kept.
                    error = f"file could not be read ({type(exc).__name__})"
            con.begin()
            if not same_content and not landing_file.refused and error is None:
                try:
                    counts = _load_classified(con, layout, landing_file, file_id, run_id)
                except READ_ERRORS as exc:
                    con.rollback()
                    con.begin()
                    error = f"file could not be read ({type(exc).__name__})"
            if landing_file.refused:
                ledger["status"] = "refused"
                totals["files_refused"] += 1
                log.warning("landing path refused: %s: %s", shown, landing_file.refused)
            elif same_content:
                # The same bytes under another name: a re-delivery, not new rows.
                ledger["status"] = "duplicate_content"
                totals["files_duplicate_content"] += 1
            elif error is not None:
                # Quarantined whole: none of its rows is loaded; it stays in landing/ (and in
                # the ledger with its reason) for the sender to deliver again.
                ledger["status"] = "quarantined"
                ledger["error"] = error
                totals["files_failed"] += 1
                log.warning("landing file quarantined: %s: %s", shown, error)
            else:
                ledger.update(counts, status="ingested")
                totals["files_ingested"] += 1
                source_totals = per_source.setdefault(
                    ledger["source"], dict.fromkeys(ROW_COUNTS, 0)
                )
                for name, value in counts.items():
                    totals[name] += value
                    source_totals[name] += value
                log.info("ingested %s: %s", shown, counts)
            if dropped and error is None and not same_content:
                ledger["dropped_columns"] = ", ".join(_shown(name) for name in dropped)
                totals["files_with_dropped_columns"] += 1
                log.warning(
                    "landing file %s: columns not in the contract dropped: %s",
                    shown,
                    ledger["dropped_columns"],
                )
            run_sql(con, "ingest/record_ledger", ledger)
            con.commit()
    hashes.save()
    totals["by_source"] = per_source
    return totals
