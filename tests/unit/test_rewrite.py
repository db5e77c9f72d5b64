"""Erasure rewrites of delivered and exported files: exactly the lines of the erased people go,
every other byte stays."""

from __future__ import annotations

import gzip
import json

import duckdb
import pytest

from kalido.stores.rewrite import Needles, rewrite_feed_dir, rewrite_file

NEEDLES = Needles({"customer": frozenset({"c_gone"}), "cookie": frozenset({"ck_gone"})})


def event(cookie: str, customer: str | None, **extra) -> bytes:
    row = {"event_id": f"e-{cookie}-{customer}", "cookie_id": cookie, "customer_id": customer}
    return json.dumps({**row, **extra}).encode()


# (line, whether the erasure removes it)
LINES = [
    (event("ck_keep", "C_KEEP"), False),
    (event("ck_gone", None), True),  # the erased customer's cookie, not logged in
    (event("ck_keep", " C_GONE "), True),  # spelled with blanks and capitals as delivered
    (event("ck_keep", "C_KEEP", referrer="mentions c_gone in another field"), False),
    (b"", False),
    (b"   ", False),
    (b"not json, but names ck_gone", True),  # quarantined at ingest: holds the cookie, goes
    (b"not json, names nobody", False),
    (b"[1, 2, 3]", False),
    (b'{"cookie_id": "\\u0063k_gone", "customer_id": null}', True),  # JSON may escape any letter
    (b'{"cookie_id": "ck_keep", "customer_id": "C_KE\\u0045P"}', False),
    (event("ck_gone", None), True),  # the same line twice
    (event("ck_keep", "C_KEEP"), False),
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
def test_a_jsonl_rewrite_removes_exactly_the_erased_peoples_lines(
    tmp_path, suffix, bom, ending, last_newline
):
    def content(lines) -> bytes:
        return bom + ending.join(lines) + (ending if last_newline else b"")

    path = tmp_path / f"events{suffix}"
    original = content(line for line, _ in LINES)
    path.write_bytes(gzip.compress(original) if suffix.endswith(".gz") else original)
    result = rewrite_file(path, "browsing", NEEDLES)
    data = path.read_bytes()
    assert (gzip.decompress(data) if suffix.endswith(".gz") else data) == content(
        line for line, goes in LINES if not goes
    )
    assert result.rows_removed == sum(goes for _, goes in LINES) == 5


def test_lines_across_blocks_and_a_file_left_with_nobody(tmp_path):
    # Blocks of 4 MB: a rewrite of 200k lines crosses block ends in the middle of lines.
    lines = [event(f"ck_{i}", "C_GONE" if i % 997 == 0 else f"C_{i}") for i in range(200_000)]
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines)))
    result = rewrite_file(path, "browsing", NEEDLES)
    kept = gzip.decompress(path.read_bytes()).split(b"\n")
    assert kept == [line for i, line in enumerate(lines) if i % 997]
    assert result.rows_removed == len(lines) - len(kept)
    gone = tmp_path / "gone.jsonl"
    gone.write_bytes(event("ck_gone", None) + b"\n\n")
    assert rewrite_file(gone, "browsing", NEEDLES).sha256 is None and not gone.exists()


def test_a_line_that_is_not_utf8_still_goes_with_its_person(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([event("ck_keep", "C_KEEP"), b"\xff\xfe ck_gone", b""]))
    result = rewrite_file(path, "browsing", NEEDLES)
    assert result.rows_removed == 1 and b"ck_gone" not in path.read_bytes()


def test_a_file_with_nobody_to_remove_is_not_rewritten(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(event("ck_keep", "C_KEEP")))
    before = path.stat().st_mtime_ns
    assert rewrite_file(path, "browsing", NEEDLES).rows_removed == 0
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
    assert rewrite_feed_dir(feed_dir, NEEDLES, tmp_path / "spill") == 2
    assert csv_path.read_bytes().splitlines(keepends=True) == [
        original[0],
        original[1],
        original[3],
    ]
    manifest = json.loads((feed_dir / "manifest.json").read_text())
    assert (manifest["rows"], manifest["recipients"]) == (2, 1)
    # Nobody left: the header stays, the email platform reads an empty day as empty.
    rewrite_feed_dir(feed_dir, Needles({"customer": frozenset({"c_keep"})}), tmp_path / "spill")
    assert csv_path.read_bytes().splitlines(keepends=True) == [original[0]]
