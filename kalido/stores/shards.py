"""User-hash shards of the per-user stages (gate, build_features, recommend).

A user's shard follows from the pseudonym itself: its first PREFIX letters read as a base-16
number (the token alphabet a-p is sorted like the hex digits it stands for), scaled to 0..N-1.
So shard i is one contiguous range of pseudonyms, tested in SQL with two string comparisons
(about 20 times cheaper per row in DuckDB than decoding characters to an integer), stable across
DuckDB and Python versions (no `hash()`).

With one shard the shard's database is the work database itself, so the default run writes
exactly what it wrote before sharding existed; with N > 1 shard i writes
`work/shards/<i>-of-<N>.duckdb` and reads the shared work database read-only, so shard tasks can
run in parallel processes or on other workers sharing KALIDO_HOME.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kalido.config import Layout
from kalido.db import IDENTIFIER, attach, connect

ALPHABET = "abcdefghijklmnop"  # the pseudonym token alphabet, in the order of its hex values
PREFIX = 6
SPACE = len(ALPHABET) ** PREFIX
ABOVE_ALL = "q"  # sorts after every token
MAX_SHARDS = 4096
_LABEL = re.compile(r"^(\d+)-of-(\d+)$")
COUNT_TABLE = "work_shards"  # written by the similarity stage: how many shards this run used


def _encode(value: int) -> str:
    letters = []
    for _ in range(PREFIX):
        value, digit = divmod(value, len(ALPHABET))
        letters.append(ALPHABET[digit])
    return "".join(reversed(letters))


def shard_of(pid: str, count: int) -> int:
    """The shard (0..count-1) of a pseudonym."""
    value = 0
    for letter in pid[:PREFIX]:
        value = value * len(ALPHABET) + ALPHABET.index(letter)
    return value * count // SPACE


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.count <= MAX_SHARDS and 0 <= self.index < self.count):
            raise ValueError(f"no shard {self.index} of {self.count}")

    @classmethod
    def parse(cls, label: str) -> Shard:
        """A shard from its label `<i>-of-<n>` (Airflow map values, file names)."""
        match = _LABEL.match(label)
        if not match:
            raise ValueError("a shard label reads <i>-of-<n>")
        return cls(int(match[1]), int(match[2]))

    @property
    def label(self) -> str:
        return f"{self.index}-of-{self.count}"

    @property
    def params(self) -> dict:
        """$shard_from / $shard_to: the pseudonyms of this shard are >= from and < to."""
        start = -(-self.index * SPACE // self.count)
        end = -(-(self.index + 1) * SPACE // self.count)
        return {
            "shard_from": _encode(start),
            "shard_to": _encode(end) if end < SPACE else ABOVE_ALL,
        }

    def path(self, layout: Layout) -> Path:
        """The shard's database: the work database itself when there is one shard."""
        if self.count == 1:
            return layout.work_db
        return shards_dir(layout) / f"{self.label}.duckdb"


ONE_SHARD = Shard()


def plan(count: int) -> list[str]:
    """The labels of every shard of a run with `count` shards."""
    return [Shard(i, count).label for i in range(count)]


def shards_dir(layout: Layout) -> Path:
    return layout.work_db.parent / "shards"


def open_shard(layout: Layout, shard: Shard, timezone: str) -> duckdb.DuckDBPyConnection:
    """A connection writing the shard's database; unqualified names also find the shared work
    database's tables (read-only), so the same SQL runs for one shard and for many."""
    con = connect(shard.path(layout), timezone=timezone)
    if shard.count > 1:
        attach(con, layout.work_db, "work")
        con.execute("set search_path = 'main,work.main'")
    return con


def remove_other_counts(layout: Layout, count: int) -> None:
    """Drop shard databases of an earlier run with another shard count (derived data only)."""
    keep = set(plan(count)) if count > 1 else set()
    folder = shards_dir(layout)
    if folder.is_dir():
        for path in folder.glob("*.duckdb*"):
            if path.name.split(".", 1)[0] not in keep:
                path.unlink()


def recorded_count(layout: Layout) -> int:
    """The shard count of the run that last built the work database (1 before any)."""
    if not layout.work_db.exists():
        return 1
    with duckdb.connect(str(layout.work_db), read_only=True) as con:
        found = con.execute(
            "select 1 from duckdb_tables() where table_name = $t", {"t": COUNT_TABLE}
        ).fetchone()
        if not found:
            return 1
        return con.execute(f"select max(shards) from {COUNT_TABLE}").fetchone()[0] or 1


def attach_shards(con: duckdb.DuckDBPyConnection, layout: Layout, count: int) -> list[str]:
    """Attach every shard database read-only as shard_<i>; returns the aliases."""
    aliases = []
    for index in range(count):
        alias = f"shard_{index}"
        attach(con, Shard(index, count).path(layout), alias)
        aliases.append(alias)
    return aliases


def union_views(
    con: duckdb.DuckDBPyConnection, aliases: list[str], catalog: str | None, tables=None
) -> None:
    """One view per table of the shards (or of `tables`): the union of all shards, in
    `catalog` (None: temporary views of this connection)."""
    found = con.execute(
        "select table_name from duckdb_tables() where database_name = $db order by table_name",
        {"db": aliases[0]},
    ).fetchall()
    for (table,) in found:
        if tables is not None and table not in tables:
            continue
        if not IDENTIFIER.match(table):
            raise ValueError("shard tables must have plain names")
        union = " union all ".join(f"select * from {alias}.main.{table}" for alias in aliases)
        create = f"create view {catalog}.main.{table}" if catalog else f"create temp view {table}"
        con.execute(f"{create} as {union}")


def attach_work(con: duckdb.DuckDBPyConnection, layout: Layout, alias: str = "work") -> None:
    """Attach the work database read-only as `alias`, as one database whatever the shard count:
    with N shards, `alias` is an in-memory catalog of views over the shared work database and
    the union of the shards' per-user tables."""
    count = recorded_count(layout)
    if count == 1:
        attach(con, layout.work_db, alias)
        return
    attach(con, layout.work_db, f"{alias}_shared")
    aliases = attach_shards(con, layout, count)
    con.execute(f"attach ':memory:' as {alias}")
    shared = con.execute(
        "select table_name from duckdb_tables() where database_name = $db order by table_name",
        {"db": f"{alias}_shared"},
    ).fetchall()
    for (table,) in shared:
        if not IDENTIFIER.match(table):
            raise ValueError("work tables must have plain names")
        con.execute(
            f"create view {alias}.main.{table} as select * from {alias}_shared.main.{table}"
        )
    union_views(con, aliases, alias)
