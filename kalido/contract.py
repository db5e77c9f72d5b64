"""The landing contract, read once from contract.yaml: sources, their columns, keys and values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CONTRACT_FILE = Path(__file__).with_name("contract.yaml")
PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceSpec:
    name: str
    fields: tuple[Column, ...]
    key: tuple[str, ...]  # a second row with the same key is a duplicate

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """A file (CSV, Parquet) whose header lacks one of these is quarantined whole."""
        return tuple(c.name for c in self.fields if c.required)

    @property
    def raw_table(self) -> str:
        return f"raw_{self.name}"

    def values(self, column: str) -> tuple[str, ...]:
        return next(c.values for c in self.fields if c.name == column)


def _load() -> tuple[tuple[str, ...], dict[str, SourceSpec]]:
    body = yaml.safe_load(CONTRACT_FILE.read_text(encoding="utf-8"))
    sources = {
        name: SourceSpec(
            name,
            tuple(
                Column(column, c["type"], c.get("required", False), tuple(c.get("values", ())))
                for column, c in source["columns"].items()
            ),
            tuple(source["key"]),
        )
        for name, source in body["sources"].items()
    }
    return tuple(body["extensions"]), sources


EXTENSIONS, SOURCES = _load()
EVENT_TYPES = SOURCES["browsing"].values("event_type")
