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
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A configuration defect: the run stops with a one-line message and exit status 2."""


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


@dataclass(frozen=True)
class Settings:
    layout: Layout
    key_version: int
    key: bytes = field(repr=False)
    # Object storage (pipelines/objectstore.py); URLs may carry credentials.
    landing_url: str | None = field(default=None, repr=False)
    export_url: str | None = field(default=None, repr=False)

    @property
    def key_fingerprint(self) -> str:
        """A non-reversible tag of the key, so a key swapped under the same version is noticed."""
        return hmac.new(self.key, b"kalido-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def default_home() -> Path:
    return Path(os.environ.get("KALIDO_HOME") or PROJECT_ROOT / "data").resolve()


def load_settings(key: str | None = None) -> Settings:
    """Settings from the environment; `key` overrides KALIDO_PSEUDONYM_KEY (Airflow Variable)."""
    secret = key if key is not None else os.environ.get("KALIDO_PSEUDONYM_KEY", "")
    if not secret:
        raise ConfigError("KALIDO_PSEUDONYM_KEY is not set (a secret of at least 32 bytes)")
    if len(secret.encode("utf-8")) < MIN_KEY_BYTES:
        raise ConfigError(f"KALIDO_PSEUDONYM_KEY is shorter than {MIN_KEY_BYTES} bytes")
    version_text = os.environ.get("KALIDO_PSEUDONYM_KEY_VERSION", "1")
    if not version_text.isdigit() or int(version_text) < 1:
        raise ConfigError("KALIDO_PSEUDONYM_KEY_VERSION must be a positive integer")
    return Settings(
        layout=Layout(default_home()),
        key_version=int(version_text),
        key=secret.encode("utf-8"),
        landing_url=os.environ.get(LANDING_URL_VARIABLE) or None,
        export_url=os.environ.get(EXPORT_URL_VARIABLE) or None,
    )
