"""Pseudonymise: raw (restricted) -> stg_ tables in the pseudonymised work database."""

from __future__ import annotations

import logging
from datetime import date

import pyarrow as pa

from kalido.config import ConfigError, Settings
from kalido.db import attach, connect, rebuild_in_fresh_process, run_sql
from kalido.policy import Policy
from kalido.pseudonyms import pseudonym
from kalido.timewindow import day_end_utc

log = logging.getLogger(__name__)


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


def assign_pseudonyms(settings: Settings) -> int:
    """Compute pseudonyms for identifiers first seen in this run (hashing only the new ones)."""
    with connect(settings.layout.raw_db) as con:
        run_sql(con, "ingest/create_raw_tables")
        run_sql(con, "pseudonymise/create_identity_tables")
        con.execute(
            "insert or ignore into pseudonym_keys values ($v, $f)",
            {"v": settings.key_version, "f": settings.key_fingerprint},
        )
        new = run_sql(
            con, "pseudonymise/new_identifiers", {"key_version": settings.key_version}
        ).to_arrow_table()
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
        con.execute("insert into id_pseudonyms select * from batch")
    return len(pids)


def pseudonymise(settings: Settings, policy: Policy, logical_date: date, run_id: str) -> dict:
    """Rebuild the pseudonymised staging tables as of the logical date."""
    new_ids = assign_pseudonyms(settings)
    work_db = settings.layout.work_db
    work_db.unlink(missing_ok=True)  # staging is derived: rebuilt whole, never patched
    with connect(work_db, timezone=policy.business_timezone) as con:
        attach(con, settings.layout.raw_db, "raw")
        run_sql(
            con,
            "pseudonymise/build_staging",
            {
                "key_version": settings.key_version,
                "logical_date": logical_date,
                "cutoff": day_end_utc(logical_date, policy.business_timezone),
                "age_limit": policy.age_limit,
            },
        )
        counts = {
            table: con.execute(f"select count(*) from {table}").fetchone()[0]
            for table in (
                "stg_customers",
                "stg_consents",
                "stg_browsing",
                "stg_orders",
                "stg_requests",
                "stg_products",
            )
        }
    # This process read the restricted zone: the work file is re-copied by a fresh process so that
    # no stale buffer bytes (DuckDB block tails) carry an identifier out of restricted/.
    rebuild_in_fresh_process(work_db)
    log.info("pseudonymised: %s new identifiers, %s", new_ids, counts)
    return {"new_pseudonyms": new_ids, **counts}
