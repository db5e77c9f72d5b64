"""The SHA-256 of each landing file, kept under its size, mtime and inode
(restricted/landing_hashes.json): the ingest ledger knows a file by path and SHA-256, and a night
hashes only the files that are new or were rewritten since, not every file the landing zone
still holds (S after 60 days: 399 MB of landing files hashed again every night)."""

from __future__ import annotations

import json
from pathlib import Path

from kalido.config import Layout
from kalido.db import sha256_of, write_text_whole

RECORD = "landing_hashes.json"


class LandingHashes:
    """sha256(path, relative) for one ingest; save() keeps the files it was asked about."""

    def __init__(self, layout: Layout):
        self.path = layout.restricted / RECORD
        try:
            self.known = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.known = {}  # no usable record: every file is hashed once
        self.seen: dict[str, dict] = {}

    def sha256(self, path: Path, relative: str) -> str:
        info = path.stat()
        stat = [info.st_size, info.st_mtime_ns, info.st_ino]
        entry = self.known.get(relative)
        if not isinstance(entry, dict) or entry.get("stat") != stat:
            entry = {"stat": stat, "sha256": sha256_of(path)}
        self.seen[relative] = entry
        return entry["sha256"]

    def save(self) -> None:
        """The record of this night's landing files (a file gone from landing leaves it)."""
        if self.seen != self.known:
            write_text_whole(self.path, json.dumps(self.seen, sort_keys=True))
