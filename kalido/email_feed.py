"""The email feed directory (`exports/email_recommendations/`): which feeds are complete, and
`LATEST`, the date of the newest one. Publish, purge and the bucket mirror read it alike."""

from __future__ import annotations

from pathlib import Path

from kalido.db import replace_atomically

MANIFEST = "manifest.json"


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
