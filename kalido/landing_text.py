"""Landing text split line by line in Python, for the files DuckDB's reader cannot split.

DuckDB reads well-formed files fast, but its CSV reader (which also splits JSON Lines) stops at a
carriage return inside a line or at LF and CRLF mixed in one file, and an unterminated quote makes
it swallow every line after it into one rejected record. Such a file is split here instead:
- JSON Lines: every physical line is a line; one that is not UTF-8 is rejected alone.
- CSV: a physical line is a record; a line with an open quote takes the following lines only when
  together they close the quote and give the header's number of fields (a quoted value may span
  lines), else the line alone is rejected and the next line starts afresh.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

# A quoted value may span at most this many lines; an open quote that has not closed by then
# belongs to a broken line, not to a value.
MAX_RECORD_LINES = 20


@dataclass
class Records:
    header: list[str]
    rows: dict[str, list] = field(default_factory=dict)
    numbers: list[int] = field(default_factory=list)  # the line each record starts on
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, text)

    def table(self) -> pa.Table:
        columns = {name: pa.array(values, pa.string()) for name, values in self.rows.items()}
        return pa.table({**columns, "_row": pa.array(self.numbers, pa.int64())})

    def rejects_table(self) -> pa.Table:
        return _rejects_table(self.rejects)


def _lines(raw: bytes) -> Iterator[tuple[int, str | None, str]]:
    """(line number, text or None when not UTF-8, text for the quarantine) per physical line."""
    for number, chunk in enumerate(raw.split(b"\n"), 1):
        chunk = chunk.removesuffix(b"\r")
        if number == 1:
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
        try:
            text = chunk.decode("utf-8")
            yield number, text, text
        except UnicodeDecodeError:
            yield number, None, chunk.decode("utf-8", errors="replace")


def split_lines(raw: bytes) -> tuple[pa.Table, pa.Table]:
    """A JSON Lines file's lines as (_row, line) and its unreadable lines as (_row, _reason,
    _payload), numbered from 1 like DuckDB's reader numbers them."""
    numbers, texts, rejects = [], [], []
    for number, text, shown in _lines(raw):
        if text is None:
            rejects.append((number, "unreadable line: invalid unicode", shown))
        else:
            numbers.append(number)
            texts.append(text)
    if texts and texts[-1] == "":
        numbers.pop()
        texts.pop()
    lines = pa.table({"_row": pa.array(numbers, pa.int64()), "line": pa.array(texts, pa.string())})
    return lines, _rejects_table(rejects)


def _rejects_table(rejects: list[tuple[int, str, str]]) -> pa.Table:
    lines, reasons, texts = zip(*rejects, strict=True) if rejects else ((), (), ())
    return pa.table(
        {
            "_row": pa.array(lines, pa.int64()),
            "_reason": pa.array(reasons, pa.string()),
            "_payload": pa.array(texts, pa.string()),
        }
    )


def _parse(text: str) -> list[str] | None:
    """The fields of one record, or None when the text is not exactly one closed record."""
    try:
        parsed = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    return parsed[0] if len(parsed) == 1 else None


def split_records(raw: bytes, header: list[str]) -> Records:
    """The records of a CSV file's bytes (header line first), numbered by the line they start on."""
    records = Records(header=header, rows={name: [] for name in header})
    lines = list(_lines(raw))
    if lines and lines[-1][1] == "":
        lines.pop()  # the newline that ends the last record
    position = 1
    while position < len(lines):
        number, text, shown = lines[position]
        if text is None:
            records.rejects.append((number, "unreadable CSV line: invalid unicode", shown))
            position += 1
            continue
        if text.strip() == "":
            position += 1
            continue
        fields, taken = _parse(text), 1
        if fields is None:
            joined = text
            for extra in range(1, MAX_RECORD_LINES):
                if position + extra >= len(lines) or lines[position + extra][1] is None:
                    break
                joined += "\n" + lines[position + extra][1]
                fields = _parse(joined)
                if fields is not None:
                    taken = extra + 1
                    break
        if fields is None or len(fields) != len(header):
            reason = "unterminated quote" if fields is None else "wrong number of fields"
            records.rejects.append((number, f"unreadable CSV line: {reason}", shown))
            position += 1
            continue
        for name, value in zip(header, fields, strict=True):
            records.rows[name].append(value)
        records.numbers.append(number)
        position += taken
    return records
