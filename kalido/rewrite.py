"""Physical rewrites of delivered and exported files without some people's rows.

Erasure must not leave the bytes behind, so files are rewritten whole (never tombstoned): the kept
rows go to a hidden temporary file beside the original, which then replaces it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
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


def _kept_jsonl(text: str, fields: dict[str, str], needles: Needles) -> tuple[list[str], int]:
    kept, removed = [], 0
    for line in text.splitlines(keepends=True):
        if not needles.anywhere(line):  # cheap pre-filter: most lines mention nobody
            kept.append(line)
            continue
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
        else:
            kept.append(line)
    return kept, removed


def _kept_csv(text: str, fields: dict[str, str], needles: Needles) -> tuple[str, int, int]:
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    if not rows:
        return text, 0, 0
    header = [name.strip().lower() for name in rows[0]]
    index = {name: header.index(name) for name in fields if name in header}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    removed = kept = 0
    for row in rows[1:]:
        if len(row) != len(header):
            hit = needles.anywhere("\x1f".join(row))  # a broken row that holds a needle goes
        else:
            hit = any(needles.matches(fields[name], row[i]) for name, i in index.items())
        if hit:
            removed += 1
        else:
            kept += 1
            writer.writerow(row)
    return bom + out.getvalue(), removed, kept


def _replace(path: Path, data: bytes) -> Rewrite:
    tmp = path.with_name(f".{path.name}.rewrite.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return Rewrite(0, hashlib.sha256(data).hexdigest(), len(data))


def rewrite_file(path: Path, source: str, needles: Needles) -> Rewrite:
    """Rewrite a CSV, JSON Lines (optionally gzipped) or Parquet file without the needles' rows."""
    fields = IDENTIFIER_FIELDS[source]
    name = path.name.lower()
    gz = name.endswith(".gz")
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
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if gz else raw).decode("utf-8", errors="replace")
    if ".jsonl" in name:
        lines, removed = _kept_jsonl(text, fields, needles)
        new_text, kept = "".join(lines), sum(1 for line in lines if line.strip())
    else:
        new_text, removed, kept = _kept_csv(text, fields, needles)
    if removed == 0:
        return _unchanged(path)
    if kept == 0:
        path.unlink()
        return Rewrite(removed, None, 0)
    data = new_text.encode("utf-8")
    result = _replace(path, gzip.compress(data, mtime=0) if gz else data)
    return Rewrite(removed, result.sha256, result.size_bytes)


def _unchanged(path: Path) -> Rewrite:
    data = path.read_bytes()
    return Rewrite(0, hashlib.sha256(data).hexdigest(), len(data))


def rewrite_feed_dir(feed_dir: Path, needles: Needles) -> int:
    """Drop the needles' rows from one email feed; its manifest follows. Returns rows removed."""
    csv_path, manifest_path = feed_dir / "recommendations.csv", feed_dir / "manifest.json"
    if not csv_path.exists():
        return 0
    text = csv_path.read_text(encoding="utf-8")
    new_text, removed, _ = _kept_csv(text, IDENTIFIER_FIELDS["feed"], needles)
    if removed == 0:
        return 0
    data = new_text.encode("utf-8")
    _replace(csv_path, data)
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        recipients = {row["customer_id"] for row in csv.DictReader(io.StringIO(new_text))}
        manifest.update(
            rows=manifest.get("rows", 0) - removed,
            recipients=len(recipients),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        _replace(manifest_path, json.dumps(manifest, indent=2).encode("utf-8"))
    return removed
