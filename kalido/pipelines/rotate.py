"""Pseudonym key rotation: re-key the identity table, so old pseudonyms link to nothing."""

from __future__ import annotations

import logging
import shutil

import duckdb
import pyarrow as pa

from kalido.config import ConfigError, Layout, Settings
from kalido.db import connect, rebuild_database, run_sql
from kalido.pseudonyms import pseudonym
from kalido.stores.shards import shards_dir

log = logging.getLogger(__name__)


def current_key_version(layout: Layout) -> int:
    """The newest key version the identity table has seen (0: none yet), read only."""
    if not layout.raw_db.exists():
        return 0
    with duckdb.connect(str(layout.raw_db), read_only=True) as con:
        has_table = con.execute(
            "select 1 from duckdb_tables() where table_name = 'pseudonym_keys'"
        ).fetchone()
        if not has_table:
            return 0
        return con.execute("select max(key_version) from pseudonym_keys").fetchone()[0] or 0


def check_key_version(settings: Settings) -> None:
    """A rotation is never undone: an older key version would bring its pseudonyms back."""
    current = current_key_version(settings.layout)
    if settings.key_version < current:
        raise ConfigError(
            f"KALIDO_PSEUDONYM_KEY_VERSION {settings.key_version} is older than the current key "
            f"version {current}: a key rotation cannot be undone"
        )


def rotate_key(settings: Settings) -> dict:
    """Move the restricted identity table to the configured (new) key version."""
    layout = settings.layout
    if not layout.raw_db.exists():
        raise ConfigError("nothing to rotate: no restricted/raw.duckdb yet")
    # Refused before the database is opened for writing.
    current = current_key_version(layout)
    if settings.key_version <= current:
        raise ConfigError(
            f"rotate-key needs KALIDO_PSEUDONYM_KEY_VERSION above the current version {current}"
        )
    with connect(layout.raw_db) as con:
        run_sql(con, "ingest/create_raw_tables")
        run_sql(con, "pseudonymise/create_identity_tables")
        run_sql(con, "purge/create_tables")
        known = con.execute(
            "select distinct domain, raw_id from id_pseudonyms order by domain, raw_id"
        ).to_arrow_table()
        domains, raw_ids = known.column("domain").to_pylist(), known.column("raw_id").to_pylist()
        rekeyed = pa.table(  # noqa: F841 - read by DuckDB below
            {
                "domain": pa.array(domains, pa.string()),
                "raw_id": pa.array(raw_ids, pa.string()),
                "pid": [
                    pseudonym(settings.key, d, r) for d, r in zip(domains, raw_ids, strict=True)
                ],
                "key_version": pa.array([settings.key_version] * len(domains), pa.int32()),
            }
        )
        con.begin()
        con.execute("insert into id_pseudonyms select * from rekeyed")
        con.execute(
            "insert into pseudonym_keys values ($v, $f)",
            {"v": settings.key_version, "f": settings.key_fingerprint},
        )
        run_sql(con, "requests/rekey_request_log", {"key_version": settings.key_version})
        retired = con.execute(
            "delete from id_pseudonyms where key_version <> $v", {"v": settings.key_version}
        ).fetchone()[0]
        con.commit()
    rebuild_database(layout.raw_db, keep_row_order=False)
    # Staging, browsing partitions and shards hold the old pseudonyms; the next run rebuilds
    # them under the new key.
    layout.work_db.unlink(missing_ok=True)
    shutil.rmtree(layout.browsing_partitions, ignore_errors=True)
    shutil.rmtree(shards_dir(layout), ignore_errors=True)
    counts = {"key_version": settings.key_version, "identifiers": len(domains), "retired": retired}
    log.info("rotated pseudonym key: %s", counts)
    return counts
