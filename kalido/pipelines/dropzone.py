"""Landing from object storage. `KALIDO_LANDING_URL` names a drop zone laid out like `landing/`
(`<source>/dt=YYYY-MM-DD/<name>`) on any filesystem fsspec knows: `s3://bucket/prefix` (with
s3fs installed), `gs://` (gcsfs), `abfs://` (adlfs), `file:///`. At the start of a run, before
anything decides whether the run has work to do, its files dated up to the logical date are
moved into `KALIDO_HOME/landing/`: moved, not copied, so that the only copy of the delivered
personal data is the one purge and retention govern (a copy left in the bucket would outlive
an erasure).

A file is downloaded under a temporary name, checked against the size the store reports, put in
place with a rename, and only then deleted from the drop zone: a failure anywhere leaves it in
the drop zone for the next run. A file whose path already holds other bytes in `landing/`
stays there too (a second delivery under the same name is for a person to look at, never
overwritten); the same bytes mean a pull whose delete failed, and the delete is done again.
Nothing here logs the URL, which may carry credentials.
"""

from __future__ import annotations

import filecmp
import logging
import os
from datetime import date
from pathlib import Path, PurePosixPath

from kalido.config import LANDING_URL_VARIABLE, ConfigError, Settings
from kalido.pipelines.ingest import PARTITION, SOURCES

log = logging.getLogger(__name__)


def open_drop_zone(url: str):
    """(filesystem, root path) of the URL; ConfigError when fsspec cannot open it."""
    import fsspec

    protocol = url.split("://", 1)[0] if "://" in url else "file"
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        raise ConfigError(
            f"{LANDING_URL_VARIABLE}: the {protocol}:// filesystem is not installed"
            " (s3fs, gcsfs or adlfs)"
        ) from None
    except (ValueError, OSError) as exc:
        raise ConfigError(
            f"{LANDING_URL_VARIABLE}: {protocol}:// cannot be opened ({type(exc).__name__})"
        ) from None


def _landing_path(relative: str, logical_date: date) -> bool:
    """A file in the landing layout, dated up to the logical date (later ones wait)."""
    parts = PurePosixPath(relative).parts
    if len(parts) != 3 or parts[0] not in SOURCES or parts[2].startswith("."):
        return False
    match = PARTITION.match(parts[1])
    return bool(match) and match.group(1) <= logical_date.isoformat()


class DropZoneUnavailable(Exception):
    """The drop zone could not be listed: the run stops rather than go on without the day."""

    def __init__(self, exc: Exception):
        self.safe_message = f"the drop zone could not be listed ({type(exc).__name__})"
        super().__init__(self.safe_message)


def pull(settings: Settings, logical_date: date) -> dict[str, int]:
    """Move the drop zone's files dated up to the logical date into landing/."""
    fs, root = open_drop_zone(settings.landing_url)
    root = root.rstrip("/")
    try:
        found = sorted(fs.find(root, detail=True).items())
    except Exception as exc:  # any store's error (credentials, network, missing bucket)
        raise DropZoneUnavailable(exc) from None
    counts = dict.fromkeys(("files_pulled", "pull_conflicts", "pull_failures", "pull_waiting"), 0)
    for remote, info in found:
        relative = remote[len(root) :].lstrip("/")
        if not _landing_path(relative, logical_date):
            counts["pull_waiting"] += 1  # a later date, or not a landing path: left in place
            continue
        outcome = _move(fs, remote, info.get("size"), settings.layout.landing / relative)
        counts[outcome] += 1
        if outcome == "pull_failures":
            log.error("drop zone file not pulled: %s", relative)
        elif outcome == "pull_conflicts":
            log.warning("drop zone file kept: landing/%s holds other content", relative)
    log.info("drop zone: %s", counts)
    return counts


def _move(fs, remote: str, size: int | None, target: Path) -> str:
    """Download, check, rename into place, then delete the drop zone's copy; the outcome's
    count name. A target already holding the same bytes is a pull whose delete failed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    try:
        fs.get_file(remote, str(partial))
        if partial.stat().st_size != size:
            return "pull_failures"
        if target.exists():
            if not filecmp.cmp(partial, target, shallow=False):
                return "pull_conflicts"
        else:
            os.replace(partial, target)
        fs.rm_file(remote)
    except Exception:  # any store's error: the file stays for the next run
        return "pull_failures"
    finally:
        partial.unlink(missing_ok=True)
    return "files_pulled"
