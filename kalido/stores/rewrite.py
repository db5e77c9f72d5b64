"""Physical rewrites of delivered and exported files without some people's rows.

Erasure must not leave the bytes behind, so files are rewritten whole (never tombstoned): the kept
rows go to a hidden temporary file beside the original, which then replaces it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from isal import igzip

from kalido.db import connect, run_sql
from kalido.stores.email_feed import (
    ENCODING,
    FEED_FILE,
    MANIFEST,
    RECIPIENTS_FILE,
    RECIPIENTS_KEY,
    REMOVAL_COLUMNS,
    REMOVALS_FILE,
    manifest_for,
    read_manifest,
    revision_of,
    swap_dir,
    write_manifest,
)
from kalido.stores.runs import now_utc

# Which fields of each landing source name a person, and in which identifier domain.
IDENTIFIER_FIELDS = {
    "customers": {"customer_id": "customer", "email": "email"},
    "consents": {"subject_id": "subject"},
    "browsing": {"customer_id": "customer", "cookie_id": "cookie"},
    "orders": {"customer_id": "customer"},
    "requests": {"customer_id": "customer"},
    "products": {},
    "feed": {"customer_id": "customer"},
}


# Characters of identifiers as delivered (ids, cookie ids, e-mail addresses): a needle made only of
# these is found by set lookups of a line's tokens instead of a substring search per needle.
TOKEN = re.compile(r"[\w.%+@-]+")


@dataclass(frozen=True)
class Needles:
    """Lower-cased, trimmed identifiers to remove, per domain (customer, cookie, email)."""

    by_domain: dict[str, frozenset[str]]

    @cached_property
    def all(self) -> frozenset[str]:
        return frozenset().union(*self.by_domain.values()) if self.by_domain else frozenset()

    @cached_property
    def _tokens(self) -> frozenset[str]:
        return frozenset(n for n in self.all if TOKEN.fullmatch(n))

    @cached_property
    def _other(self) -> tuple[str, ...]:
        return tuple(n for n in self.all if not TOKEN.fullmatch(n))

    def of(self, domain: str) -> frozenset[str]:
        """The needles of a field's domain; a consent's subject is a customer or a cookie."""
        if domain == "subject":
            return self.of("customer") | self.of("cookie")
        return self.by_domain.get(domain, frozenset())

    def matches(self, domain: str, value) -> bool:
        return value is not None and str(value).strip().lower() in self.of(domain)

    def anywhere(self, text: str) -> bool:
        """Whether the text holds a needle as a whole token (or, for the rare needle with other
        characters, anywhere): linear in the text, whatever the number of needles."""
        lowered = text.lower()
        tokens = self._tokens
        return any(t in tokens for t in TOKEN.findall(lowered)) or any(
            needle in lowered for needle in self._other
        )


@dataclass(frozen=True)
class Rewrite:
    rows_removed: int
    sha256: str | None  # None: nothing was kept, the file is gone
    size_bytes: int


def _names_a_needle(line: str, fields: dict[str, str], needles: Needles) -> bool:
    """Whether an erasure removes this line of a JSON Lines file: a JSON object whose identifier
    fields name a needle (as ingest reads them: trimmed, any case), or any other line that holds
    a needle (a quarantined line goes with its person)."""
    try:
        row = json.loads(line.removeprefix("\ufeff"))  # ingest reads past a byte order mark
    except ValueError:
        return needles.anywhere(line)
    if isinstance(row, dict):
        return any(needles.matches(domain, row.get(name)) for name, domain in fields.items())
    return needles.anywhere(line)


def _filter_csv(lines: Iterable[str], write, fields: dict[str, str], needles: Needles):
    """Write the header and the rows that name no needle; returns (rows removed, rows kept)."""
    lines = iter(lines)
    first = next(lines, "")
    bom = "\ufeff" if first.startswith("\ufeff") else ""
    reader = csv.reader(itertools.chain([first.removeprefix(bom)], lines))
    header_row = next(reader, None)
    if header_row is None:
        return 0, 0
    header = [name.strip().lower() for name in header_row]
    index = {name: header.index(name) for name in fields if name in header}
    write(bom)
    writer = csv.writer(_Writer(write), lineterminator="\n")
    writer.writerow(header_row)
    removed = kept = 0
    for row in reader:
        if len(row) != len(header):
            hit = needles.anywhere("\x1f".join(row))  # a broken row that holds a needle goes
        else:
            hit = any(needles.matches(fields[name], row[i]) for name, i in index.items())
        if hit:
            removed += 1
        else:
            kept += 1
            writer.writerow(row)
    return removed, kept


@dataclass(frozen=True)
class _Writer:
    write: Callable[[str], object]


@contextmanager
def _binary(path: Path, mode: str, gz: bool):
    """A byte stream over a file, gzipped or not. Gzip through ISA-L (several times zlib's speed
    both ways: a rewritten landing file is a retail day of browsing), written with no timestamp
    and the fastest level, as the file is kept only until it expires."""
    with open(path, mode + "b") as raw:
        if not gz:
            yield raw
            return
        with igzip.GzipFile(
            filename="", mode=mode + "b", fileobj=raw, mtime=0, compresslevel=1
        ) as z:
            yield z


@contextmanager
def _text(path: Path, mode: str, gz: bool):
    """A text stream over a file, read or written a line at a time (never held whole)."""
    with (
        _binary(path, mode, gz) as stream,
        io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="") as handle,
    ):
        yield handle


def _rewrite_csv(path: Path, fields: dict[str, str], needles: Needles) -> Rewrite:
    gz = path.name.lower().endswith(".gz")
    tmp = _beside(path)
    with _text(path, "r", gz) as src, _text(tmp, "w", gz) as dst:
        removed, kept = _filter_csv(src, dst.write, fields, needles)
    return _swap_in(path, tmp, removed, kept > 0)


def _swap_in(path: Path, tmp: Path, removed: int, keep_file: bool) -> Rewrite:
    """Replace `path` by its rewritten copy `tmp` (or remove it: nothing kept)."""
    if removed == 0:
        tmp.unlink()
        return _unchanged(path)
    if not keep_file:
        tmp.unlink()
        path.unlink()
        return Rewrite(removed, None, 0)
    os.replace(tmp, path)
    unchanged = _unchanged(path)
    return Rewrite(removed, unchanged.sha256, unchanged.size_bytes)


def _jsonl_pattern(needles: Needles) -> str:
    """RE2 for the lines of a JSON Lines file that may name a needle: the needle as written, as
    JSON writes it, or any \\u escape (JSON may spell any character so; such lines are parsed)."""
    spellings = {n for needle in needles.all for n in (needle, json.dumps(needle)[1:-1])}
    spellings |= {n.replace("/", "\\/") for n in spellings if "/" in n}
    return "|".join([r"\\u", *(re.escape(n) for n in sorted(spellings))])


def _rewrite_jsonl(path: Path, fields: dict[str, str], needles: Needles) -> Rewrite:
    """Copy a JSON Lines file without the lines an erasure removes, in one pass of large blocks.

    Each block's lines are searched at once for the needles (RE2); only the few lines holding one
    or a JSON escape are decoded, parsed and judged, the rest is copied as read. Gzip both ways
    through ISA-L. An L day of browsing (10M lines, 800 MB gzipped), 330 needles: 37 s, where
    DuckDB reading the file to judge it, then a copy of it, took 60 s.
    """
    gz = path.name.lower().endswith(".gz")
    tmp = _beside(path)
    pattern = _jsonl_pattern(needles)
    # Bytes match as Latin-1, which folds the case of ASCII only; UTF-8 text costs more.
    line_type = pa.large_binary() if all(n.isascii() for n in needles.all) else pa.large_string()
    removed = 0
    kept_any = False
    with _binary(path, "r", gz) as src, _binary(tmp, "w", gz) as dst:
        for block in _blocks(src):
            ends = np.flatnonzero(np.frombuffer(block, np.uint8) == ord("\n")) + 1
            if not block.endswith(b"\n"):
                ends = np.append(ends, len(block))
            starts = np.r_[0, ends[:-1]]
            drop = [
                i
                for i in _matching_lines(block, ends, line_type, pattern)
                if _names_a_needle(
                    block[starts[i] : ends[i]].decode("utf-8", errors="replace"), fields, needles
                )
            ]
            removed += len(drop)
            cut = 0
            for i in drop:
                kept_any = kept_any or bool(block[cut : starts[i]].strip())
                dst.write(block[cut : starts[i]])
                cut = ends[i]
            kept_any = kept_any or bool(block[cut:].strip())
            dst.write(block[cut:])
    return _swap_in(path, tmp, removed, kept_any)


def _matching_lines(block: bytes, ends: np.ndarray, line_type, pattern: str) -> np.ndarray:
    """Indices of the block's lines (ending at `ends`) in which the RE2 `pattern` occurs, any case:
    one search over an Arrow array laid on the block's own bytes."""
    offsets = pa.py_buffer(np.r_[0, ends])
    lines = pa.Array.from_buffers(line_type, len(ends), [None, offsets, pa.py_buffer(block)])
    found = pc.match_substring_regex(lines, pattern, ignore_case=True)
    return np.flatnonzero(found.to_numpy(zero_copy_only=False))


def _blocks(src):
    """The stream in blocks of about 4 MB, each ending at a line end (the last one may not)."""
    tail = b""
    while chunk := src.read(1 << 22):
        block = tail + chunk
        cut = block.rfind(b"\n") + 1
        tail = block[cut:]
        if cut:
            yield block[:cut]
    if tail:
        yield tail


def _beside(path: Path) -> Path:
    """The hidden temporary file a rewrite of `path` is written to before it replaces it."""
    return path.with_name(f".{path.name}.rewrite.tmp")


def _replace(path: Path, data: bytes) -> Rewrite:
    tmp = _beside(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return Rewrite(0, hashlib.sha256(data).hexdigest(), len(data))


def rewrite_file(path: Path, source: str, needles: Needles) -> Rewrite:
    """Rewrite a CSV, JSON Lines (optionally gzipped) or Parquet file without the needles' rows."""
    fields = IDENTIFIER_FIELDS[source]
    name = path.name.lower()
    if ".jsonl" in name:
        return _rewrite_jsonl(path, fields, needles)
    if name.endswith(".parquet"):
        table = pq.read_table(path)
        drop = pa.array([False] * table.num_rows)
        for column, domain in fields.items():
            if column not in table.column_names:
                continue
            values = pc.utf8_lower(pc.utf8_trim_whitespace(table[column].cast(pa.string())))
            wanted = pa.array(sorted(needles.of(domain)), pa.string())
            hit = pc.fill_null(pc.is_in(values, wanted), False)
            drop = pc.or_(drop, hit)
        removed = pc.sum(drop).as_py() or 0
        kept = table.filter(pc.invert(drop))
        if removed == 0:
            return _unchanged(path)
        if kept.num_rows == 0:
            path.unlink()
            return Rewrite(removed, None, 0)
        buffer = io.BytesIO()
        pq.write_table(kept, buffer)
        result = _replace(path, buffer.getvalue())
        return Rewrite(removed, result.sha256, result.size_bytes)
    return _rewrite_csv(path, fields, needles)


def _unchanged(path: Path) -> Rewrite:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return Rewrite(0, digest.hexdigest(), path.stat().st_size)


def rewrite_feed_dir(
    feed_dir: Path, needles: Needles, spill_dir: Path, reasons: Mapping[str, str] | None = None
) -> int:
    """Drop the needles' rows from one email feed. The feed is copied into a hidden directory
    beside it (the CSV and recipients.csv without those people, removals.csv naming them by the
    recipient pseudonym recipients.csv gave them and reason class, `reasons`: needle -> class, a
    manifest of the next revision) which then replaces it whole: a reader never sees a CSV and a
    manifest that disagree. A feed written before recipients.csv (schema 2) keeps its layout:
    the pseudonyms are read from its CSV's recipient_pid column; one written before recipient
    pseudonyms (schema 1) names nobody in removals.csv. Returns the CSV rows removed."""
    csv_path = feed_dir / FEED_FILE
    recipients_path = feed_dir / RECIPIENTS_FILE
    customers = sorted(needles.of(IDENTIFIER_FIELDS["feed"]["customer_id"]))
    if not csv_path.exists() or not customers:
        return 0
    listing = recipients_path.is_file()  # False: a feed written before recipients.csv
    staging = feed_dir.with_name(f".{feed_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        with connect(spill_dir=spill_dir) as con:
            params = {"path": str(csv_path), "customer_ids": customers}
            run_sql(con, "purge/feed_without", params)
            columns = [c for c in con.table("feed_rows").columns if c != "_erased"]
            removed, rows, recipients = _kept_counts(con, "feed_rows")
            listed_removed = listed_kept = None
            if listing:
                params = {"path": str(recipients_path), "customer_ids": customers}
                run_sql(con, "purge/recipients_without", params)
                listed_removed, listed_kept, _ = _kept_counts(con, "recipient_rows")
            elif "recipient_pid" in columns:  # schema 2: the pseudonyms are in the CSV
                run_sql(con, "purge/recipients_in_feed")
            # Someone listed in recipients.csv alone leaves it too: an erasure leaves no bytes.
            if not removed and not listed_removed:
                shutil.rmtree(staging)
                return 0
            _write_kept(con, "feed_rows", staging / FEED_FILE)
            if listing:
                _write_kept(con, "recipient_rows", staging / RECIPIENTS_FILE)
            # Their pseudonyms, read before the rows leave (none in a feed of schema 1).
            pseudonymous = listing or "recipient_pid" in columns
            gone = run_sql(con, "purge/feed_removed").fetchall() if pseudonymous else []
        kept = _write_removals(feed_dir, staging, gone, reasons or {})
        _copy_others(feed_dir, staging)
        old = read_manifest(feed_dir)
        fields = {k: v for k, v in old.items() if k not in _DESCRIBED}
        fields.update(rows=rows, recipients=recipients, revised_at=now_utc())
        revision = revision_of(feed_dir) + 1
        manifest = manifest_for(staging, fields, revision, kept, columns, listed_kept)
        write_manifest(staging, manifest)
        swap_dir(staging, feed_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return removed


def _kept_counts(con, rows: str) -> tuple[int, int, int]:
    """(rows removed, rows kept, distinct customers kept) of feed_rows or recipient_rows."""
    return run_sql(con, "purge/kept_counts", identifiers={"rows": rows}).fetchone()


def _write_kept(con, rows: str, path: Path) -> None:
    """The kept rows of feed_rows or recipient_rows, as CSV with its header, to `path`."""
    run_sql(con, "purge/write_kept", {"path": str(path)}, identifiers={"rows": rows})


# What manifest_for writes from the files themselves (the rest of an old manifest is kept).
_DESCRIBED = {
    "schema_version",
    "revision",
    "file",
    "bytes",
    "encoding",
    "format",
    "columns",
    "column_types",
    "sha256",
    "removals",
    RECIPIENTS_KEY,
}


def _write_removals(
    feed_dir: Path, staging: Path, gone: list[tuple[str, str]], reasons: Mapping[str, str]
) -> int:
    """The feed's removals.csv plus the recipients this rewrite removed (they were in this very
    feed: last_feed_date is its own date); the rows written."""
    feed_date = feed_dir.name.removeprefix("dt=")
    listed: dict[str, tuple[str, str]] = {}
    existing = feed_dir / REMOVALS_FILE
    if existing.is_file():
        with open(existing, encoding=ENCODING, newline="") as handle:
            for row in csv.DictReader(handle):
                listed[row["recipient_pid"]] = (row["reason"], row["last_feed_date"])
    for needle, recipient_pid in gone:
        if recipient_pid and recipient_pid not in listed:
            listed[recipient_pid] = (reasons.get(needle, "other"), feed_date)
    with open(staging / REMOVALS_FILE, "w", encoding=ENCODING, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REMOVAL_COLUMNS)
        for recipient_pid, (reason, last_feed_date) in sorted(listed.items()):
            writer.writerow([recipient_pid, reason, last_feed_date])
    return len(listed)


def _copy_others(feed_dir: Path, staging: Path) -> None:
    """Files of the feed this rewrite does not write, copied as they are."""
    for path in feed_dir.iterdir():
        if (
            path.name not in (FEED_FILE, RECIPIENTS_FILE, REMOVALS_FILE, MANIFEST)
            and path.is_file()
        ):
            shutil.copy2(path, staging / path.name)
