"""Identities: the keyed pseudonym of every identifier seen, and the key check (restricted)."""

from __future__ import annotations

import pyarrow as pa

from kalido.config import ConfigError, Settings
from kalido.db import connect, run_sql
from kalido.pseudonyms import pseudonym
from kalido.stores import raw_browsing


def check_key(settings: Settings) -> None:
    """Refuse a key that differs from the one already used under the same key version."""
    if not settings.layout.raw_db.exists():
        return
    with connect(settings.layout.raw_db, read_only=True) as con:
        has_table = con.execute(
            "select 1 from duckdb_tables() where table_name = 'pseudonym_keys'"
        ).fetchone()
        if not has_table:
            return
        row = con.execute(
            "select fingerprint from pseudonym_keys where key_version = $v",
            {"v": settings.key_version},
        ).fetchone()
    if row and row[0] != settings.key_fingerprint:
        raise ConfigError(
            "KALIDO_PSEUDONYM_KEY differs from the key used for this key version; "
            "bump KALIDO_PSEUDONYM_KEY_VERSION to rotate"
        )


def assign_pseudonyms(settings: Settings) -> pa.Table:
    """Compute pseudonyms for identifiers first seen in this run (hashing only the new ones);
    returns those identifiers (domain, raw_id). Only files not yet read under the current key
    are read (ledger column identifiers_key_version), so the cost follows the new files, not
    the history."""
    key_version = {"key_version": settings.key_version}
    with connect(settings.layout.raw_db) as con:
        run_sql(con, "ingest/create_raw_tables")
        run_sql(con, "pseudonymise/create_identity_tables")
        con.execute(
            "insert or ignore into pseudonym_keys values ($v, $f)",
            {"v": settings.key_version, "f": settings.key_fingerprint},
        )
        unread_browsing = run_sql(con, "pseudonymise/unread_files", key_version).fetchall()
        raw_browsing.open_view(con, settings.layout, only=unread_browsing)
        new = run_sql(con, "pseudonymise/new_identifiers", key_version).to_arrow_table()
        domains = new.column("domain").to_pylist()
        raw_ids = new.column("raw_id").to_pylist()
        pids = [pseudonym(settings.key, d, r) for d, r in zip(domains, raw_ids, strict=True)]
        batch = pa.table(  # noqa: F841 - read by the insert below through DuckDB's replacement scan
            {
                "domain": domains,
                "raw_id": raw_ids,
                "pid": pids,
                "key_version": pa.array([settings.key_version] * len(pids), pa.int32()),
            }
        )
        con.begin()
        con.execute("insert into id_pseudonyms select * from batch")
        run_sql(con, "pseudonymise/mark_files_read", key_version)
        con.commit()
    return new
