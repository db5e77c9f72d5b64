"""The generator's realistic zone via the CLI: identifiers stay home, every row counted."""

from __future__ import annotations

import csv
import re
import shutil

import duckdb
import pytest

from kalido.cards import CARD_CANDIDATE, luhn_valid
from kalido.db import attach, connect
from tests.conftest import kalido, query
from tests.integration.test_privacy_and_reruns import files_outside_restricted

DATE = "2026-11-24"
# Shapes of the generator's direct identifiers, so a file is scanned once per shape, not per value.
IDENTIFIER_SHAPES = {
    "customer_id": rb"C\d{7}",
    "cookie_id": rb"ck_[0-9a-f]{16}",
    "ip_address": rb"\d{1,3}(?:\.\d{1,3}){3}",
}


@pytest.fixture(scope="module")
def generated_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("generated")
    env = {"KALIDO_HOME": str(home), "KALIDO_PSEUDONYM_KEY": "k" * 40}
    kalido("generate", "--days", "4", "--users", "600", "--products", "150", "--out", str(home))
    kalido("run", "--date", DATE, env=env)
    return home


def landing_identifiers(home) -> dict[str, set[bytes]]:
    """Every direct identifier the landing zone holds, read with DuckDB from the raw files."""
    landing = home / "landing"
    with duckdb.connect() as con:
        customers = con.execute(
            "select customer_id, email, phone from read_csv(?, all_varchar=true)",
            [str(landing / "customers/*/*.csv")],
        ).fetchall()
        browsing = con.execute(
            """select regexp_extract_all(line, '"(?:cookie_id|ip_address)":"([^"]+)"', 1)
               from read_csv(?, columns={'line': 'varchar'}, delim=chr(1), quote='', escape='',
                             header=false)""",
            [str(landing / "browsing/*/*.jsonl.gz")],
        ).fetchall()
    found = {
        "customer_id": {c[0] for c in customers if c[0]},
        "email": {c[1] for c in customers if c[1]},
        "phone": {c[2] for c in customers if c[2]},
        "cookie_id": {v for (values,) in browsing for v in values if v.startswith("ck_")},
        "ip_address": {v for (values,) in browsing for v in values if not v.startswith("ck_")},
    }
    return {kind: {v.encode() for v in values} for kind, values in found.items()}


def test_no_landing_identifier_or_card_number_outside_the_restricted_zone(generated_home):
    identifiers = landing_identifiers(generated_home)
    assert all(len(values) > 50 for values in identifiers.values()), {
        k: len(v) for k, v in identifiers.items()
    }
    scanned = list(files_outside_restricted(generated_home))
    assert "analytics.duckdb" in {p.name for p in scanned}
    for path in scanned:
        content = path.read_bytes()
        where = path.relative_to(generated_home)
        for kind, shape in IDENTIFIER_SHAPES.items():
            leaked = set(re.findall(shape, content)) & identifiers[kind]
            assert not leaked, f"{kind} {sorted(leaked)[:3]} in {where}"
        for kind in ("email", "phone"):
            leaked = [value for value in identifiers[kind] if value in content]
            assert not leaked, f"{kind} in {where}"
    exports = [p for p in (generated_home / "exports").rglob("*") if p.is_file()]
    for path in scanned + exports:
        assert not card_numbers_in(path), path.relative_to(generated_home)


def card_numbers_in(path) -> list[str]:
    """Card-number-like values a reader of the file would see.

    DuckDB files are read value by value: compressed string storage lays unrelated strings side by
    side, so a byte scan would report digit runs no reader ever sees as one value.
    """
    if path.suffix != ".duckdb":
        text = path.read_bytes().decode("utf-8", errors="replace")
        return [m.group(0) for m in CARD_CANDIDATE.finditer(text) if luhn_valid(digits(m))]
    found = []
    with connect(spill_dir=path.parent / ".scan.spill") as con:
        attach(con, path, "scanned")
        columns = con.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_catalog = 'scanned' and data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in columns:
            found += con.execute(
                f'select "{column}" from scanned."{table}" where kalido_has_card("{column}")'
            ).fetchall()
    return found


def digits(match: re.Match[str]) -> str:
    return re.sub(r"\D", "", match.group(0))


def test_every_generated_row_is_loaded_quarantined_or_a_duplicate(generated_home):
    warehouse = generated_home / "warehouse/analytics.duckdb"
    files = query(
        warehouse,
        "select source, rows_read, rows_loaded, rows_quarantined, duplicates_dropped"
        " from ingest_files",
    )
    assert len(files) >= 4 * 4  # customers once, products twice, the rest daily
    for source, read, loaded, quarantined, duplicates in files:
        assert read == loaded + quarantined + duplicates, source
    totals = query(
        warehouse, "select sum(rows_quarantined), sum(duplicates_dropped) from ingest_files"
    )
    assert totals[0][0] > 0 and totals[0][1] > 0
    feed = generated_home / f"exports/email_recommendations/dt={DATE}/recommendations.csv"
    with feed.open(newline="", encoding="utf-8") as handle:
        keys = [(row["customer_id"], int(row["rank"])) for row in csv.DictReader(handle)]
    # Ordered by customer, then rank: the same feed twice is the same file (its sha256).
    assert len(keys) > 100 and keys == sorted(keys)
    assert query(warehouse, "select count(*) from product_similarity")[0][0] > 0


def test_a_night_without_any_browsing_still_publishes(tmp_path):
    """A zone with orders, customers and consents but no clickstream at all (say, the first
    delivery after a tracking outage): recommendations come from orders and category fallbacks."""
    env = {"KALIDO_HOME": str(tmp_path), "KALIDO_PSEUDONYM_KEY": "k" * 40}
    kalido("generate", "--days", "1", "--users", "300", "--products", "50", "--out", str(tmp_path))
    shutil.rmtree(tmp_path / "landing/browsing")
    kalido("run", "--date", DATE, env=env)
    warehouse = tmp_path / "warehouse/analytics.duckdb"
    assert query(warehouse, "select count(*) from views_recent") == [(0,)]
    assert query(warehouse, "select count(*) from recommendations")[0][0] > 0
    assert (tmp_path / f"exports/email_recommendations/dt={DATE}/manifest.json").exists()
