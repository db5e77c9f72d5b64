"""Run configuration from the environment, and the store layout under KALIDO_HOME."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

MIN_KEY_BYTES = 32
LANDING_URL_VARIABLE = "KALIDO_LANDING_URL"
EXPORT_URL_VARIABLE = "KALIDO_EXPORT_URL"
POLICY_VARIABLE = "KALIDO_POLICY"
SUPPRESSION_KEY_VARIABLE = "KALIDO_SUPPRESSION_KEY"
MEMORY_LIMIT_VARIABLE = "KALIDO_DUCKDB_MEMORY_LIMIT"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The stores a run writes: each must be writable where it already exists (the home itself too).
WRITTEN_STORES = (
    "landing",
    "restricted",
    "work",
    "warehouse",
    "exports",
    "runs",
    "reports",
    "quality",
)
_EFFECTIVE_IDS = os.access in os.supports_effective_ids  # a setuid run checks as whom it writes


class ConfigError(Exception):
    """A configuration defect: the run stops with a one-line message and exit status 2."""


class RunInProgress(ConfigError):
    """Another run holds KALIDO_HOME (see stores/runs.py): refused before anything is written,
    exit status 2 like any configuration error."""


@dataclass(frozen=True)
class Layout:
    """Where every store lives; restricted/ is the only place (with landing/ and the exports)
    allowed to hold direct identifiers."""

    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def restricted(self) -> Path:
        return self.home / "restricted"

    @property
    def spill(self) -> Path:
        """Where an in-memory DuckDB connection spills: it may attach restricted data."""
        return self.restricted / "spill"

    @property
    def raw_db(self) -> Path:
        return self.restricted / "raw.duckdb"

    @property
    def raw_browsing(self) -> Path:
        """Raw browsing, one Parquet file per ingested landing file (see raw_browsing.py)."""
        return self.restricted / "raw_browsing"

    @property
    def work_db(self) -> Path:
        return self.home / "work" / "pipeline.duckdb"

    @property
    def browsing_partitions(self) -> Path:
        """Pseudonymised browsing kept between runs, one Parquet file per landing date."""
        return self.home / "work" / "partitions" / "browsing"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse" / "analytics.duckdb"

    @property
    def runs(self) -> Path:
        return self.home / "runs"

    @property
    def email_feed(self) -> Path:
        return self.home / "exports" / "email_recommendations"

    @property
    def ad_export(self) -> Path:
        """The ad server's segment exports (ad pseudonyms only, see pipelines/ads.py)."""
        return self.home / "exports" / "ad_segments"


@dataclass(frozen=True)
class Settings:
    layout: Layout
    key_version: int
    key: bytes = field(repr=False)
    # Object storage (stores/objectstore.py); URLs may carry credentials.
    landing_url: str | None = field(default=None, repr=False)
    export_url: str | None = field(default=None, repr=False)

    @property
    def key_fingerprint(self) -> str:
        """A non-reversible tag of the key, so a key swapped under the same version is noticed."""
        return hmac.new(self.key, b"kalido-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def default_home() -> Path:
    return Path(os.environ.get("KALIDO_HOME") or PROJECT_ROOT / "data").resolve()


def policy_path() -> Path | None:
    """KALIDO_POLICY, the policy file to use instead of the packaged one (None: the packaged)."""
    configured = os.environ.get(POLICY_VARIABLE)
    if not configured:
        return None
    path = Path(configured)
    if not path.is_file():
        raise ConfigError(f"{POLICY_VARIABLE} {path} is not a file")
    return path


def check_home(home: Path) -> None:
    """The home must exist (only `kalido demo` and `kalido generate` create one) and be writable,
    or a run would stop halfway with an error about whatever it wrote first."""
    if not home.exists():
        raise ConfigError(f"KALIDO_HOME {home} does not exist (kalido generate or demo makes one)")
    if not home.is_dir():
        raise ConfigError(f"KALIDO_HOME {home} is not a directory")
    for path in [home, *(home / name for name in WRITTEN_STORES)]:
        if path.is_dir() and not os.access(path, os.W_OK | os.X_OK, effective_ids=_EFFECTIVE_IDS):
            raise ConfigError(f"KALIDO_HOME {home} is not writable ({path.name})")


def check_memory_limit() -> None:
    """KALIDO_DUCKDB_MEMORY_LIMIT, parsed by DuckDB itself, so that the first connection of a
    stage cannot be the one to find it wrong."""
    limit = os.environ.get(MEMORY_LIMIT_VARIABLE)
    if not limit:
        return
    import duckdb  # only here: the CLI's configuration errors stay fast

    try:
        with duckdb.connect() as con:
            con.execute("set memory_limit = $limit", {"limit": limit})
    except duckdb.Error:
        raise ConfigError(
            f"{MEMORY_LIMIT_VARIABLE} is not a memory size DuckDB accepts (e.g. 2GB, 500MiB)"
        ) from None


def check_suppression_key() -> None:
    """The suppression secret is first used by purge, after ingest wrote: checked up front."""
    configured = os.environ.get(SUPPRESSION_KEY_VARIABLE, "")
    if configured and len(configured.encode("utf-8")) < MIN_KEY_BYTES:
        raise ConfigError(f"{SUPPRESSION_KEY_VARIABLE} is shorter than {MIN_KEY_BYTES} bytes")


def load_settings(key: str | None = None) -> Settings:
    """Settings from the environment; `key` overrides KALIDO_PSEUDONYM_KEY (Airflow Variable).
    Every defect is a ConfigError raised before anything is read or written."""
    secret = key if key is not None else os.environ.get("KALIDO_PSEUDONYM_KEY", "")
    if not secret:
        raise ConfigError("KALIDO_PSEUDONYM_KEY is not set (a secret of at least 32 bytes)")
    if len(secret.encode("utf-8")) < MIN_KEY_BYTES:
        raise ConfigError(f"KALIDO_PSEUDONYM_KEY is shorter than {MIN_KEY_BYTES} bytes")
    version_text = os.environ.get("KALIDO_PSEUDONYM_KEY_VERSION", "1")
    if not version_text.isdigit() or int(version_text) < 1:
        raise ConfigError("KALIDO_PSEUDONYM_KEY_VERSION must be a positive integer")
    check_suppression_key()
    check_memory_limit()
    home = default_home()
    check_home(home)
    return Settings(
        layout=Layout(home),
        key_version=int(version_text),
        key=secret.encode("utf-8"),
        landing_url=os.environ.get(LANDING_URL_VARIABLE) or None,
        export_url=os.environ.get(EXPORT_URL_VARIABLE) or None,
    )
