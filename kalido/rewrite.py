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
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from isal import igzip

from kalido.db import connect, run_sql

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


def _rewrite_text(path: Path, jsonl: bool, fields: dict[str, str], needles: Needles) -> Rewrite:
    gz = path.name.lower().endswith(".gz")
    tmp = _beside(path)
    with _text(path, "r", gz) as src, _text(tmp, "w", gz) as dst:
        keep = _filter_jsonl if jsonl else _filter_csv
        removed, kept = keep(src, dst.write, fields, needles)
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


def _jsonl_hits(con, path: Path, fields: dict[str, str], needles: Needles) -> dict | None:
    """The lines of a JSON Lines file to remove (UTF-8 bytes -> how often each occurs), found by
    DuckDB; None when a line could not be read as text (then only the line loop can judge it)."""
    keys = sorted(
        f"{field}\x1f{needle}" for field, domain in fields.items() for needle in needles.of(domain)
    )
    params = {
        "path": str(path),
        "fields": list(fields),
        "paths": [f"$.{field}" for field in fields],
        "needle_keys": keys or [""],  # DuckDB cannot type an empty list; "" is no key
    }
    rows = run_sql(con, "purge/landing_line_hits", params).fetchall()
    if con.execute("select count(*) from kalido_rejects").fetchone()[0]:
        return None
    return {
        line.encode("utf-8"): copies
        for line, is_object, copies in rows
        if is_object or needles.anywhere(line)
    }


def _drop_lines(path: Path, hits: dict[bytes, int]) -> Rewrite | None:
    """Copy the file without the lines in `hits`, in large blocks; None (nothing changed) when the
    copy did not drop exactly the expected number of lines, i.e. this loop split lines otherwise
    than DuckDB did."""
    gz = path.name.lower().endswith(".gz")
    tmp = _beside(path)
    removed = 0
    kept_any = False
    with _binary(path, "r", gz) as src, _binary(tmp, "w", gz) as dst:
        for number, (lines, end) in enumerate(_line_blocks(src)):
            keys = [line.rstrip(b"\r") for line in lines]
            if number == 0 and keys:
                keys[0] = keys[0].removeprefix(b"\xef\xbb\xbf")  # DuckDB reads past a BOM
            kept = [line for line, key in zip(lines, keys, strict=True) if key not in hits]
            removed += len(lines) - len(kept)
            if kept:
                dst.write(b"\n".join(kept) + end)
                kept_any = kept_any or any(line.strip() for line in kept)
    if removed != sum(hits.values()):
        tmp.unlink()
        return None
    return _swap_in(path, tmp, removed, kept_any)


def _line_blocks(src):
    """The stream's lines, about 4 MB at a time: (lines, what ends the last of them)."""
    tail = b""
    while block := src.read(1 << 22):
        lines = (tail + block).split(b"\n")
        tail = lines.pop()
        yield lines, b"\n"
    if tail:
        yield [tail], b""


def _beside(path: Path) -> Path:
    """The hidden temporary file a rewrite of `path` is written to before it replaces it."""
    return path.with_name(f".{path.name}.rewrite.tmp")


def _replace(path: Path, data: bytes) -> Rewrite:
    tmp = _beside(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return Rewrite(0, hashlib.sha256(data).hexdigest(), len(data))


def rewrite_file(path: Path, source: str, needles: Needles, con=None) -> Rewrite:
    """Rewrite a CSV, JSON Lines (optionally gzipped) or Parquet file without the needles' rows.

    With a DuckDB connection `con`, a JSON Lines file is judged by DuckDB and copied by blocks
    (a retail day of browsing: a Python loop over its lines took minutes)."""
    fields = IDENTIFIER_FIELDS[source]
    name = path.name.lower()
    if con is not None and ".jsonl" in name:
        hits = _jsonl_hits(con, path, fields, needles)
        if hits is not None:
            if not hits:
                return _unchanged(path)
            result = _drop_lines(path, hits)
            if result is not None:
                return result
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
    customers = sorted(needles.of(IDENTIFIER_FIELDS["feed"]["customer_id"]))
    if not csv_path.exists() or not customers:
        return 0
    with connect() as con:
        run_sql(con, "purge/feed_without", {"path": str(csv_path), "customer_ids": customers})
        removed, rows, recipients = con.execute(
            "select count(*) filter (where _erased), count(*) filter (where not _erased),"
            " count(distinct customer_id) filter (where not _erased) from feed_rows"
        ).fetchone()
        if not removed:
            return 0
        # A feed left with its header only stays: the email platform reads an empty day as empty.
        tmp = _beside(csv_path)
        con.execute(
            "copy (select * exclude (_erased) from feed_rows where not _erased)"
            " to $p (format csv, header true)",
            {"p": str(tmp)},
        )
    result = _swap_in(csv_path, tmp, removed, keep_file=True)
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest.update(rows=rows, recipients=recipients, sha256=result.sha256)
        _replace(manifest_path, json.dumps(manifest, indent=2).encode("utf-8"))
    return removed
