"""Landing files on disk: the partition layout, CSV and (gzipped) JSON Lines, atomic publication."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from isal import igzip

from kalido.tools.generate.defects import Defects, JsonDefects, damage_chunk, good_sample
from kalido.tools.generate.text import text_of

SOURCES = ("customers", "consents", "browsing", "orders", "products", "requests")
CHUNK_ROWS = 250_000  # rows turned into text at a time: bounds memory on 10M-event days
GZIP_LEVEL = 1  # ISA-L's fast level: compressing browsing dominates the run time


class LandingWriter:
    """Writes files under out/landing/<source>/dt=YYYY-MM-DD/ and counts what it wrote."""

    def __init__(self, out: Path, first_date: date, defects: Defects):
        self.out = out
        self.first_date = first_date
        self.defects = defects
        self.files = 0
        self.rows = dict.fromkeys(SOURCES, 0)

    def _path(self, source: str, day: date, name: str) -> Path:
        folder = self.out / "landing" / source / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def _publish(self, temporary: Path, final: Path, source: str, rows: int) -> None:
        """Move a finished file into place, so a reader never sees half of it."""
        os.replace(temporary, final)
        self.files += 1
        self.rows[source] += rows

    def write_csv(self, source: str, day: date, name: str, columns, rows: list[list]) -> None:
        """A CSV file with header; empty files are not written."""
        if not rows:
            return
        buffer = io.StringIO()
        if self.defects.wants_bom(source == "customers" and day == self.first_date):
            buffer.write("\ufeff")
            self.defects.record(source, "bom_files", 1)
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        path = self._path(source, day, name)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(buffer.getvalue().encode("utf-8"))
        self._publish(temporary, path, source, len(rows))

    def write_lines(self, source: str, day: date, name: str, lines: list[str]) -> None:
        """A small JSON Lines file from ready lines."""
        path = self._path(source, day, name)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes("".join(lines).encode("utf-8"))
        self._publish(temporary, path, source, len(lines))

    def write_json_chunks(
        self,
        source: str,
        day: date,
        name: str,
        n_rows: int,
        build: Callable[[int, int], pa.Array],
        spec: JsonDefects,
        rng: np.random.Generator,
        sample_rng: np.random.Generator | None = None,
    ) -> list[str]:
        """A JSON Lines file built chunk by chunk with its defects.

        With `sample_rng`, returns a few good lines of the file: candidates for duplicates in the
        next day's file.
        """
        path = self._path(source, day, name)
        temporary = path.with_name(path.name + ".tmp")
        written, sample = 0, []
        with open(temporary, "wb") as raw:
            sink = (
                igzip.GzipFile(
                    filename="", fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0
                )
                if name.endswith(".gz")
                else raw
            )
            for base in range(0, n_rows, CHUNK_ROWS):
                clean = build(base, min(base + CHUNK_ROWS, n_rows))
                lines = damage_chunk(clean, base, spec, rng, base == 0)
                sink.write(text_of(lines))
                written += len(lines)
                if sample_rng is not None and base + CHUNK_ROWS >= n_rows:
                    sample = good_sample(clean, base, spec, sample_rng)
            if sink is not raw:
                sink.close()
        self._publish(temporary, path, source, written)
        return sample
