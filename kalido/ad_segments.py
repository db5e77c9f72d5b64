"""Advertising segments as data (kalido/ad_segments.yaml): loaded into frozen, self-validating
dataclasses; the `ads` stage applies them in SQL (sql/ads/ad_segments.sql)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from kalido.config import ConfigError

# The adult age bands staging derives (sql/pseudonymise/build_staging.sql; a unit test
# holds the two equal). 'minor' and 'unknown' are not targetable.
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS = ("F", "M", "X")  # the contract's values
SEGMENT_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
CATEGORY_PATH = re.compile(r"^[^>]+(?: > [^>]+)*$")  # 'A > B', the catalogue's separator
RULE_KEYS = ("age_bands", "genders", "interests")


@dataclass(frozen=True)
class Segment:
    """One segment: a profile is a member when each condition its rule has holds."""

    segment_id: str
    name: str
    age_bands: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"ad segment {self.segment_id!r}"
        if not SEGMENT_ID.match(self.segment_id):
            raise ConfigError(f"{where}: an id is lower-case letters, digits and _")
        if not self.name.strip():
            raise ConfigError(f"{where}: needs a name")
        if not (self.age_bands or self.genders or self.interests):
            raise ConfigError(f"{where}: a rule needs age_bands, genders or interests")
        if not set(self.age_bands) <= set(AGE_BANDS):
            raise ConfigError(f"{where}: age_bands are among {', '.join(AGE_BANDS)}")
        if not set(self.genders) <= set(GENDERS):
            raise ConfigError(f"{where}: genders are among {', '.join(GENDERS)}")
        for path in self.interests:
            if not CATEGORY_PATH.match(path) or path != path.strip():
                raise ConfigError(f"{where}: interests are category paths like 'A > B'")

    @property
    def rule(self) -> str:
        """The rule in words, as published (ad_segments.rule, segments.csv has the name)."""
        parts = []
        if self.age_bands:
            parts.append("age band " + " or ".join(self.age_bands))
        if self.genders:
            parts.append("gender " + " or ".join(self.genders))
        if self.interests:
            parts.append("a top interest in " + " or ".join(self.interests))
        return " and ".join(parts)


def _strings(spec: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = spec.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(values)


def load_segments(path: Path) -> tuple[Segment, ...]:
    """The segments file, validated (ConfigError with a one-line message on any defect)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"ad segments: cannot read {path.name}: {type(exc).__name__}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("segments"), list):
        raise ConfigError(f"ad segments: {path.name} must hold a list `segments`")
    segments = []
    for number, spec in enumerate(raw["segments"], 1):
        where = f"ad segments: entry {number}"
        if not isinstance(spec, dict) or not {"id", "name"} <= set(spec):
            raise ConfigError(f"{where} needs an id and a name")
        unknown = set(spec) - {"id", "name", *RULE_KEYS}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
        segments.append(
            Segment(
                segment_id=str(spec["id"]),
                name=str(spec["name"]),
                **{key: _strings(spec, key, where) for key in RULE_KEYS},
            )
        )
    ids = [s.segment_id for s in segments]
    if len(set(ids)) != len(ids):
        raise ConfigError("ad segments: segment ids must be unique")
    return tuple(segments)


def as_table(segments: tuple[Segment, ...]) -> pa.Table:
    """The segments as rows for SQL (registered as ad_segment_rules; values, never SQL text)."""
    strings = pa.list_(pa.string())
    return pa.table(
        {
            "segment_id": pa.array([s.segment_id for s in segments], pa.string()),
            "name": pa.array([s.name for s in segments], pa.string()),
            "rule": pa.array([s.rule for s in segments], pa.string()),
            "age_bands": pa.array([list(s.age_bands) for s in segments], strings),
            "genders": pa.array([list(s.genders) for s in segments], strings),
            "interests": pa.array([list(s.interests) for s in segments], strings),
        }
    )
