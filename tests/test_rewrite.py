"""Erasure rewrites of delivered and exported files: the DuckDB-judged block copy removes exactly
what the line-by-line reading removes, and keeps every other byte."""

from __future__ import annotations

import gzip
import json

import duckdb
import pytest

from kalido import rewrite
from kalido.db import connect
from kalido.rewrite import Needles, rewrite_feed_dir, rewrite_file

NEEDLES = Needles({"customer": frozenset({"c_gone"}), "cookie": frozenset({"ck_gone"})})


def event(cookie: str, customer: str | None, **extra) -> bytes:
    row = {"event_id": f"e-{cookie}-{customer}", "cookie_id": cookie, "customer_id": customer}
    return json.dumps({**row, **extra}).encode()


LINES = [
    event("ck_keep", "C_KEEP"),
    event("ck_gone", None),  # the erased customer's cookie, not logged in
    event("ck_keep", " C_GONE "),  # spelled with blanks and capitals as delivered
    event("ck_keep", "C_KEEP", referrer="mentions c_gone in another field"),  # kept
    b"",
    b"   ",
    b"not json, but names ck_gone",  # quarantined at ingest: holds the cookie, goes
    b"not json, names nobody",
    b"[1, 2, 3]",
    event("ck_gone", None),  # the same line twice
    event("ck_keep", "C_KEEP"),
]


@pytest.mark.parametrize(
    ("suffix", "bom", "ending", "last_newline"),
    [
        (".jsonl", b"", b"\n", True),
        (".jsonl.gz", b"", b"\n", False),
        (".jsonl", b"\xef\xbb\xbf", b"\n", True),
        (".jsonl.gz", b"", b"\r\n", True),
    ],
)
def test_block_copy_removes_what_the_line_loop_removes(
    tmp_path, monkeypatch, suffix, bom, ending, last_newline
):
    content = bom + ending.join(LINES) + (ending if last_newline else b"")
    results = {}
    for way in ("duckdb", "lines"):
        path = tmp_path / way / f"events{suffix}"
        path.parent.mkdir()
        path.write_bytes(gzip.compress(content) if suffix.endswith(".gz") else content)
        with connect(tmp_path / way / "x.duckdb") as con, monkeypatch.context() as patch:
            if way == "duckdb":  # the block copy must not fall back to the line loop
                patch.setattr(rewrite, "_rewrite_text", None)
            result = rewrite_file(path, "browsing", NEEDLES, con if way == "duckdb" else None)
        data = path.read_bytes()
        results[way] = (result.rows_removed, gzip.decompress(data) if ".gz" in suffix else data)
    assert results["duckdb"] == results["lines"]
    removed, kept = results["duckdb"]
    assert removed == 4
    assert b"ck_gone" not in kept and b"C_GONE" not in kept
    assert b"mentions c_gone in another field" in kept and b"names nobody" in kept


def test_a_line_duckdb_cannot_read_is_left_to_the_line_loop(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([event("ck_keep", "C_KEEP"), b"\xff\xfe ck_gone", b""]))
    with connect(tmp_path / "x.duckdb") as con:
        result = rewrite_file(path, "browsing", NEEDLES, con)
    assert result.rows_removed == 1 and b"ck_gone" not in path.read_bytes()


def test_a_file_with_nobody_to_remove_is_not_rewritten(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(event("ck_keep", "C_KEEP")))
    before = path.stat().st_mtime_ns
    with connect(tmp_path / "x.duckdb") as con:
        assert rewrite_file(path, "browsing", NEEDLES, con).rows_removed == 0
    assert path.stat().st_mtime_ns == before


def test_feed_rewrite_keeps_the_other_rows_byte_for_byte(tmp_path):
    feed_dir = tmp_path / "dt=2026-11-24"
    feed_dir.mkdir()
    csv_path = feed_dir / "recommendations.csv"
    with duckdb.connect() as con:
        con.execute(
            "copy (select * from (values ('C_KEEP', 1, 'a, \"quoted\" title', 0.1),"
            " ('C_GONE', 1, 'x', 0.25), ('C_KEEP', 2, '', null), ('c_gone ', 2, 'y', 1e-7))"
            " as t(customer_id, rank, product_title, score)) to $p (format csv, header true)",
            {"p": str(csv_path)},
        )
    original = csv_path.read_bytes().splitlines(keepends=True)
    (feed_dir / "manifest.json").write_text(json.dumps({"rows": 4, "recipients": 2}))
    assert rewrite_feed_dir(feed_dir, NEEDLES) == 2
    assert csv_path.read_bytes().splitlines(keepends=True) == [
        original[0],
        original[1],
        original[3],
    ]
    manifest = json.loads((feed_dir / "manifest.json").read_text())
    assert (manifest["rows"], manifest["recipients"]) == (2, 1)
    # Nobody left: the header stays, the email platform reads an empty day as empty.
    rewrite_feed_dir(feed_dir, Needles({"customer": frozenset({"c_keep"})}))
    assert csv_path.read_bytes().splitlines(keepends=True) == [original[0]]
