"""The email feed directory (`exports/email_recommendations/`): which feeds are complete, and
`LATEST`, the date of the newest one; what a feed's manifest says and how a feed directory is
swapped in whole. Publish, purge and the bucket mirror read it alike (consumer guide:
docs/feed.md)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from kalido.db import replace_atomically, sha256_of

MANIFEST = "manifest.json"
FEED_FILE = "recommendations.csv"
REMOVALS_FILE = "removals.csv"
RECIPIENTS_FILE = "recipients.csv"
# 2: file, bytes, encoding, column types, revision, removals.csv (and, in the feeds written before
# recipients.csv, a recipient_pid column after the contract's). 3: recipients.csv beside the CSV,
# described under RECIPIENTS_KEY; recommendations.csv holds exactly the contract's columns.
SCHEMA_VERSION = 3
LEGACY_SCHEMA_VERSION = 2
ENCODING = "utf-8"
# The contract's columns (CONTRACT.md, "Email feed"), in its order, and nothing else.
FEED_COLUMNS = {
    "customer_id": "string",
    "rank": "integer",
    "product_id": "string",
    "product_title": "string",
    "product_url": "string",
    "score": "double",
}
# recipients.csv: each recipient of the feed once, with the keyed pseudonym removals.csv names
# people by. A feed written before it (schema 2) carried this column last in its CSV.
RECIPIENT_COLUMNS = {"customer_id": "string", "recipient_pid": "string"}
RECIPIENTS_KEY = "recipient_pids"  # the manifest's description of recipients.csv
REMOVAL_COLUMNS = {"recipient_pid": "string", "reason": "string", "last_feed_date": "date"}
# What removals.csv says of why someone may no longer be mailed: a class, never the details.
REASON_CLASSES = ("consent_withdrawn", "erased", "objected", "inactive", "other")


def complete_feeds(feed_root: Path) -> list[Path]:
    """The complete feed directories, oldest first. A feed is written under a hidden name and
    renamed in whole, so a `dt=` directory holding its manifest is complete."""
    return sorted(p for p in feed_root.glob("dt=*") if (p / MANIFEST).is_file())


def refresh_latest(feed_root: Path) -> None:
    """Point `LATEST` at the newest complete feed (remove it when there is none); a file that
    already says so is left untouched."""
    complete = complete_feeds(feed_root)
    latest = feed_root / "LATEST"
    if not complete:
        latest.unlink(missing_ok=True)
        return
    text = complete[-1].name.removeprefix("dt=") + "\n"
    if latest.is_file() and latest.read_text(encoding="utf-8") == text:
        return
    tmp = feed_root / ".LATEST.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        replace_atomically(tmp, latest)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written LATEST beside
        raise


def read_manifest(feed_dir: Path) -> dict:
    """A feed's manifest ({} when it has none or it cannot be read)."""
    try:
        manifest = json.loads((feed_dir / MANIFEST).read_text(encoding=ENCODING))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def revision_of(feed_dir: Path) -> int:
    """The revision of the feed in place: 0 when there is none, 1 for a feed written before
    manifests had revisions."""
    manifest = read_manifest(feed_dir)
    return int(manifest.get("revision", 1)) if manifest else 0


def next_revision(final: Path, manifest: dict) -> int:
    """The revision of a feed about to replace `final`: the one in place when the files are the
    same bytes (a rerun that changed nothing leaves nothing to re-import), else one more."""
    old = read_manifest(final)
    if not old:
        return 1
    same = (
        old.get("sha256") == manifest["sha256"]
        and (old.get("removals") or {}).get("sha256") == manifest["removals"]["sha256"]
        and (old.get(RECIPIENTS_KEY) or {}).get("sha256")
        == (manifest.get(RECIPIENTS_KEY) or {}).get("sha256")
    )
    return revision_of(final) + (0 if same else 1)


def previous_feed(feed_root: Path, logical_date: str) -> Path | None:
    """The newest complete feed dated before `logical_date` (YYYY-MM-DD), if any."""
    earlier = [p for p in complete_feeds(feed_root) if p.name.removeprefix("dt=") < logical_date]
    return earlier[-1] if earlier else None


def _describe(path: Path, columns: dict[str, str]) -> dict:
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "encoding": ENCODING,
        "format": "csv",  # a header row, comma-separated, RFC 4180 quoting, LF line ends
        "columns": list(columns),
        "column_types": columns,
        "sha256": sha256_of(path),
    }


def manifest_for(
    feed_dir: Path,
    fields: dict,
    revision: int,
    removals: int,
    columns: list[str] | None = None,
    recipients: int | None = None,
) -> dict:
    """The manifest of the files in `feed_dir`: the caller's fields (logical_date, generated_at,
    run_id, rows, recipients), then what describes the files (names, bytes, types, sha256).
    `columns`: the CSV's header when it is not today's (a feed written before recipients.csv,
    with recipient_pid last, or before recipient pseudonyms). `recipients`: the rows of
    recipients.csv (default: the fields' recipients, one row each). A feed with recipients.csv
    is schema 3; one without keeps the layout of schema 2."""
    types = {
        name: {**FEED_COLUMNS, **RECIPIENT_COLUMNS}.get(name, "string")
        for name in columns or FEED_COLUMNS
    }
    manifest = {
        "schema_version": LEGACY_SCHEMA_VERSION,
        **fields,
        "revision": revision,
        **_describe(feed_dir / FEED_FILE, types),
        "removals": {**_describe(feed_dir / REMOVALS_FILE, REMOVAL_COLUMNS), "rows": removals},
    }
    if (feed_dir / RECIPIENTS_FILE).is_file():
        rows = fields.get("recipients") if recipients is None else recipients
        manifest["schema_version"] = SCHEMA_VERSION
        manifest[RECIPIENTS_KEY] = {
            **_describe(feed_dir / RECIPIENTS_FILE, RECIPIENT_COLUMNS),
            "rows": rows,
        }
    return manifest


def write_manifest(feed_dir: Path, manifest: dict) -> None:
    """Write the manifest last: a reader who finds it finds the files it describes."""
    (feed_dir / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding=ENCODING)


def swap_dir(staging: Path, final: Path) -> None:
    """A feed directory is complete or absent: the old one moves aside before the new one lands
    (and comes back if the new one cannot)."""
    if not final.exists():
        os.replace(staging, final)
        return
    retired = final.with_name(f".retired-{final.name}.{os.getpid()}")
    os.replace(final, retired)
    try:
        os.replace(staging, final)
    except BaseException:
        os.replace(retired, final)
        raise
    with contextlib.suppress(OSError):
        shutil.rmtree(retired)


class FeedNotReady(Exception):
    """A feed a consumer must not use (yet): no LATEST, no manifest, or files that disagree with
    their manifest (being rewritten, or damaged in transit)."""


def verify_feed(feed_dir: Path) -> dict:
    """What a consumer checks before using a feed (docs/feed.md): the manifest exists and each
    file it describes (recommendations.csv, removals.csv, recipients.csv) has its size and sha256.
    Returns the manifest's summary; FeedNotReady."""
    manifest = read_manifest(feed_dir)
    if not manifest:
        raise FeedNotReady(f"{feed_dir.name}: no manifest, the feed is not complete")
    parts = [{"file": FEED_FILE, **manifest}]
    parts += [
        manifest[k] for k in ("removals", RECIPIENTS_KEY) if isinstance(manifest.get(k), dict)
    ]
    version = manifest.get("schema_version")
    if isinstance(version, int) and version >= SCHEMA_VERSION and RECIPIENTS_KEY not in manifest:
        raise FeedNotReady(f"{feed_dir.name}: the manifest does not describe {RECIPIENTS_FILE}")
    for part in parts:
        path = feed_dir / part["file"]
        if not path.is_file():
            raise FeedNotReady(f"{feed_dir.name}: {part['file']} is missing")
        if "bytes" in part and path.stat().st_size != part["bytes"]:
            raise FeedNotReady(f"{feed_dir.name}: {part['file']} is not the size of its manifest")
        if sha256_of(path) != part["sha256"]:
            raise FeedNotReady(f"{feed_dir.name}: {part['file']} does not match its sha256")
    return {
        "feed": feed_dir.name,
        "logical_date": manifest.get("logical_date"),
        "revision": manifest.get("revision", 1),
        "rows": manifest.get("rows"),
        "recipients": manifest.get("recipients"),
        "removals": (manifest.get("removals") or {}).get("rows", 0),
        "recipient_pids": (manifest.get(RECIPIENTS_KEY) or {}).get("rows"),
    }


def verify_latest(feed_root: Path) -> dict:
    """verify_feed of the feed LATEST names."""
    latest = feed_root / "LATEST"
    if not latest.is_file():
        raise FeedNotReady("no LATEST: no complete feed has been published")
    return verify_feed(feed_root / f"dt={latest.read_text(encoding=ENCODING).strip()}")
