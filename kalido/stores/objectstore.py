"""Object storage, through fsspec (`s3://bucket/prefix` with s3fs installed, `gs://` with gcsfs,
`abfs://` with adlfs, `file:///`): the landing zone can arrive in a bucket, and the exports can
be mirrored to one. The stores the stages write stay on POSIX storage (DuckDB cannot write a
database file to a bucket). Nothing here logs a URL, which may carry credentials.

*In: `KALIDO_LANDING_URL`*, a drop zone laid out like `landing/` (`<source>/dt=YYYY-MM-DD/<name>`).
At the start of a run, before anything decides whether the run has work to do, its files dated
up to the logical date are moved into `KALIDO_HOME/landing/`: moved, not copied, so that the only
copy of the delivered personal data is the one purge and retention govern (a copy left in the
bucket would outlive an erasure). A file is downloaded under a temporary name, checked against
the size the store reports, put in place with a rename, and only then deleted from the drop
zone: a failure anywhere leaves it there for the next run. A file whose path already holds other
bytes in `landing/` stays too (a second delivery under the same name is for a person to look
at, never overwritten); the same bytes mean a pull whose delete failed, and the delete is done
again.

*Out: `KALIDO_EXPORT_URL`*, a mirror of the email feeds and the analyst warehouse, made equal to
the local ones after every publish and every purge: a feed purge rewrote (erasure) is uploaded
again, one purge removed (retention) is removed, so the bucket keeps no more than the exports
do. A feed's files (recommendations.csv, recipients.csv, removals.csv: every file beside the
manifest) go before its manifest and `LATEST` after the feeds, so a reader following `LATEST`
finds complete feeds; the warehouse is one object, replaced whole. A feed's manifest changes
with every rewrite (its `revision`), so a rewritten feed is always uploaded again.
"""

from __future__ import annotations

import filecmp
import logging
import os
from datetime import date
from pathlib import Path, PurePosixPath

from kalido.config import EXPORT_URL_VARIABLE, LANDING_URL_VARIABLE, ConfigError, Settings
from kalido.contract import PARTITION, SOURCES
from kalido.stores.email_feed import MANIFEST, complete_feeds

log = logging.getLogger(__name__)


def open_store(variable: str, url: str):
    """(filesystem, root path) of the URL in `variable`; ConfigError when fsspec cannot open it."""
    import fsspec

    protocol = url.split("://", 1)[0] if "://" in url else "file"
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        raise ConfigError(
            f"{variable}: the {protocol}:// filesystem is not installed (s3fs, gcsfs or adlfs)"
        ) from None
    except (ValueError, OSError) as exc:
        raise ConfigError(
            f"{variable}: {protocol}:// cannot be opened ({type(exc).__name__})"
        ) from None


def check_urls(settings: Settings) -> None:
    """Preflight: every configured store can be opened."""
    if settings.landing_url:
        open_store(LANDING_URL_VARIABLE, settings.landing_url)
    if settings.export_url:
        open_store(EXPORT_URL_VARIABLE, settings.export_url)


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


def pull_landing(settings: Settings, logical_date: date) -> dict[str, int]:
    """Move the drop zone's files dated up to the logical date into landing/."""
    fs, root = open_store(LANDING_URL_VARIABLE, settings.landing_url)
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


def mirror_exports(settings: Settings, warehouse: bool = True) -> dict[str, int]:
    """Make the bucket's email feeds (and warehouse) equal to the local ones."""
    fs, root = open_store(EXPORT_URL_VARIABLE, settings.export_url)
    layout = settings.layout
    local_feeds, remote_feeds = layout.email_feed, f"{root.rstrip('/')}/email_recommendations"
    counts = dict.fromkeys(("feeds_uploaded", "feeds_removed", "warehouse_uploaded"), 0)
    complete = complete_feeds(local_feeds)
    for feed in complete:
        manifest = f"{remote_feeds}/{feed.name}/{MANIFEST}"
        if fs.exists(manifest) and fs.cat_file(manifest) == (feed / MANIFEST).read_bytes():
            continue  # the manifest holds the CSV's sha256: the same manifest, the same feed
        # Every file the manifest describes (recommendations.csv, recipients.csv, removals.csv)
        # goes first, the manifest last.
        for path in sorted(feed.iterdir()):
            if path.is_file() and path.name != MANIFEST:
                _upload(fs, path, f"{remote_feeds}/{feed.name}/{path.name}")
        _upload(fs, feed / MANIFEST, manifest)
        counts["feeds_uploaded"] += 1
    latest = local_feeds / "LATEST"
    if latest.is_file():
        _upload(fs, latest, f"{remote_feeds}/LATEST")
    elif fs.exists(f"{remote_feeds}/LATEST"):
        fs.rm_file(f"{remote_feeds}/LATEST")
    kept = {feed.name for feed in complete}
    remote = fs.ls(remote_feeds, detail=False) if fs.exists(remote_feeds) else []
    for path in remote:
        name = PurePosixPath(path).name
        if name.startswith("dt=") and name not in kept:
            fs.rm(path, recursive=True)
            counts["feeds_removed"] += 1
    if warehouse and layout.warehouse.is_file():
        _upload(fs, layout.warehouse, f"{root.rstrip('/')}/warehouse/analytics.duckdb")
        counts["warehouse_uploaded"] = 1
    log.info("exports mirrored: %s", counts)
    return counts


def _upload(fs, local: Path, remote: str) -> None:
    fs.makedirs(str(PurePosixPath(remote).parent), exist_ok=True)  # a no-op on buckets
    fs.put_file(str(local), remote)
