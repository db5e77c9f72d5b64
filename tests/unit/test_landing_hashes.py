"""A night hashes only the landing files that are new or rewritten (stores/landing_hashes.py)."""

from __future__ import annotations

import hashlib
import json
import os

from kalido.config import Layout
from kalido.stores.landing_hashes import RECORD, LandingHashes


def test_a_landing_file_is_hashed_again_only_when_its_size_mtime_or_inode_changed(tmp_path):
    layout = Layout(tmp_path)
    layout.restricted.mkdir()
    landing = tmp_path / "landing/orders/dt=2026-11-24"
    landing.mkdir(parents=True)
    kept, rewritten = landing / "kept.csv", landing / "rewritten.csv"
    kept.write_text("order_id\n1\n")
    rewritten.write_text("order_id\n2\n")
    first = LandingHashes(layout)
    for path in (kept, rewritten):
        assert first.sha256(path, path.name) == hashlib.sha256(path.read_bytes()).hexdigest()
    first.save()

    # A record standing for the file is believed without reading it: a planted digest for the
    # unchanged file comes back as is.
    record = json.loads((layout.restricted / RECORD).read_text())
    record["kept.csv"]["sha256"] = "planted"
    (layout.restricted / RECORD).write_text(json.dumps(record))
    rewritten.write_text("order_id\n3\n")  # the same size: the new mtime and inode tell
    os.utime(rewritten, ns=(0, record["rewritten.csv"]["stat"][1] + 1))
    second = LandingHashes(layout)
    assert second.sha256(kept, "kept.csv") == "planted"
    assert second.sha256(rewritten, "rewritten.csv") == hashlib.sha256(b"order_id\n3\n").hexdigest()

    # A file no longer found leaves the record.
    second.save()
    third = LandingHashes(layout)
    third.sha256(kept, "kept.csv")
    third.save()
    assert set(json.loads((layout.restricted / RECORD).read_text())) == {"kept.csv"}
