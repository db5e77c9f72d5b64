"""Physical rewrites of delivered and exported files without some people's rows.

Erasure must not leave the bytes behind, so files are rewritten whole (never tombstoned): the kept
rows go to a hidden temporary file beside the original, which then replaces it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import json
import os
import re
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

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

    def matches(self, domain: str, value) -> bool:
        if value is None:
            return False
        text = str(value).strip().lower()
        if domain == "subject":
            return text in self.by_domain.get("customer", ()) or text in self.by_domain.get(
                "cookie", ()
            )
        return text in self.by_domain.get(domain, ())

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


def _filter_jsonl(lines: Iterable[str], write, fields: dict[str, str], needles: Needles):
    """Write the lines that name no needle; returns (rows removed, rows kept)."""
    removed = kept = 0
    for line in lines:
        if needles.anywhere(line):  # cheap pre-filter: most lines mention nobody
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            hit = (
                any(needles.matches(domain, row.get(name)) for name, domain in fields.items())
                if isinstance(row, dict)
                else True  # an unparseable line that holds the identifier goes too
            )
            if hit:
                removed += 1
                continue
        write(line)
        kept += bool(line.strip())
    return removed, kept


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
def _text(path: Path, mode: str, gz: bool):
    """A text stream over a file, gzipped or not, read or written a line at a time (files can
    be a retail day of browsing: never held whole in memory). Written gzip has no timestamp."""
    if not gz:
        with open(path, mode, encoding="utf-8", errors="replace", newline="") as handle:
            yield handle
        return
    with (
        open(path, mode + "b") as raw,
        gzip.GzipFile(filename="", mode=mode + "b", fileobj=raw, mtime=0, compresslevel=6) as z,
        io.TextIOWrapper(z, encoding="utf-8", errors="replace", newline="") as handle,
    ):
        yield handle


def _rewrite_text(
    path: Path, jsonl: bool, fields: dict[str, str], needles: Needles, drop_empty: bool = True
) -> Rewrite:
    gz = path.name.lower().endswith(".gz")
    tmp = path.with_name(f".{path.name}.rewrite.tmp")
    with _text(path, "r", gz) as src, _text(tmp, "w", gz) as dst:
        keep = _filter_jsonl if jsonl else _filter_csv
        removed, kept = keep(src, dst.write, fields, needles)
    if removed == 0:
        tmp.unlink()
        return _unchanged(path)
    if kept == 0 and drop_empty:
        tmp.unlink()
        path.unlink()
        return Rewrite(removed, None, 0)
    os.replace(tmp, path)
    unchanged = _unchanged(path)
    return Rewrite(removed, unchanged.sha256, unchanged.size_bytes)


def _replace(path: Path, data: bytes) -> Rewrite:
    tmp = path.with_name(f".{path.name}.rewrite.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return Rewrite(0, hashlib.sha256(data).hexdigest(), len(data))


def rewrite_file(path: Path, source: str, needles: Needles) -> Rewrite:
    """Rewrite a CSV, JSON Lines (optionally gzipped) or Parquet file without the needles' rows."""
    fields = IDENTIFIER_FIELDS[source]
    name = path.name.lower()
    if name.endswith(".parquet"):
        table = pq.read_table(path)
        drop = pa.array([False] * table.num_rows)
        for column, domain in fields.items():
            if column not in table.column_names:
                continue
            values = pc.utf8_lower(pc.utf8_trim_whitespace(table[column].cast(pa.string())))
            wanted = (
                needles.by_domain.get("customer", frozenset())
                | needles.by_domain.get("cookie", frozenset())
                if domain == "subject"
                else needles.by_domain.get(domain, frozenset())
            )
            hit = pc.fill_null(pc.is_in(values, pa.array(sorted(wanted), pa.string())), False)
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
    return _rewrite_text(path, ".jsonl" in name, fields, needles)


def _unchanged(path: Path) -> Rewrite:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return Rewrite(0, digest.hexdigest(), path.stat().st_size)


def rewrite_feed_dir(feed_dir: Path, needles: Needles) -> int:
    """Drop the needles' rows from one email feed; its manifest follows. Returns rows removed."""
    csv_path, manifest_path = feed_dir / "recommendations.csv", feed_dir / "manifest.json"
    if not csv_path.exists():
        return 0
    # A feed left with its header only stays: the email platform reads an empty day as empty.
    result = _rewrite_text(csv_path, False, IDENTIFIER_FIELDS["feed"], needles, drop_empty=False)
    if result.rows_removed and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        with open(csv_path, encoding="utf-8", newline="") as handle:
            recipients = {row["customer_id"] for row in csv.DictReader(handle)}
        manifest.update(
            rows=manifest.get("rows", 0) - result.rows_removed,
            recipients=len(recipients),
            sha256=result.sha256,
        )
        _replace(manifest_path, json.dumps(manifest, indent=2).encode("utf-8"))
    return result.rows_removed
