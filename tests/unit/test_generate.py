"""The synthetic landing zone: reproducible, in contract format, with the promised defects."""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from kalido.cards import CARD_CANDIDATE, luhn_valid
from kalido.tools.generate import generate_landing
from tests.landing import CUSTOMER_COLUMNS, ORDER_COLUMNS, PRODUCT_COLUMNS

END = date(2026, 11, 24)
DAYS = ("2026-11-22", "2026-11-23", "2026-11-24")
CSV_COLUMNS = {"customers": CUSTOMER_COLUMNS, "orders": ORDER_COLUMNS, "products": PRODUCT_COLUMNS}
JSON_FIELDS = {
    "browsing": {
        "event_id",
        "event_time",
        "event_type",
        "cookie_id",
        "customer_id",
        "session_id",
        "product_id",
        "page_url",
        "referrer",
        "ip_address",
        "user_agent",
    },
    "consents": {"subject_type", "subject_id", "purpose", "status", "recorded_at", "source"},
    "requests": {"request_id", "customer_id", "type", "purpose", "received_at"},
}
NAIVE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
AWARE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def generate(out: Path, **overrides):
    arguments = {"days": 3, "users": 1500, "products": 300, "end_date": END} | overrides
    return generate_landing(out, **arguments)


def file_texts(out: Path) -> dict[str, str]:
    """Every landing file's decoded text, by path relative to out."""
    texts = {}
    for path in sorted((out / "landing").rglob("*.*")):
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        texts[path.relative_to(out).as_posix()] = raw.decode("utf-8")
    return texts


def csv_rows(texts: dict[str, str], source: str) -> list[dict]:
    rows = []
    for name, text in texts.items():
        if name.startswith(f"landing/{source}/"):
            rows += csv.DictReader(text.removeprefix("\ufeff").splitlines())
    return rows


def json_rows(texts: dict[str, str], source: str) -> tuple[list[dict], int]:
    """Parsed objects of a JSON Lines source, and the number of lines that do not parse."""
    rows, malformed = [], 0
    for name, text in texts.items():
        if name.startswith(f"landing/{source}/"):
            for line in text.splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    malformed += 1
    return rows, malformed


def card_numbers(text: str) -> list[str]:
    """Luhn-valid card-number-like runs, found the way the pipeline finds them."""
    found = (m.group(0) for m in CARD_CANDIDATE.finditer(text))
    return [f for f in found if luhn_valid(re.sub(r"\D", "", f))]


@pytest.fixture(scope="module")
def zone(tmp_path_factory):
    out = tmp_path_factory.mktemp("zone")
    return generate(out), file_texts(out)


@pytest.fixture(scope="module")
def clean_zone(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return generate(out, bad_rate=0), file_texts(out)


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path):
    def snapshot(out: Path) -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
        }

    small = {"days": 2, "users": 300, "products": 80}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate(tmp_path / name, seed=seed, **small)
    first, again, other = (snapshot(tmp_path / name) for name in "abc")
    assert first == again
    assert first.keys() == other.keys()
    assert (
        first["landing/browsing/dt=2026-11-24/events.jsonl.gz"]
        != (other["landing/browsing/dt=2026-11-24/events.jsonl.gz"])
    )


def test_every_day_has_its_partitions_and_the_summary_matches_the_files(zone):
    summary, texts = zone
    assert (summary.first_date, summary.last_date) == (date(2026, 11, 22), END)
    for day in DAYS:
        for source, name in (("browsing", "events.jsonl.gz"), ("consents", "consents.jsonl")):
            assert f"landing/{source}/dt={day}/{name}" in texts
        assert f"landing/orders/dt={day}/orders.csv" in texts
    assert f"landing/customers/dt={DAYS[0]}/customers.csv" in texts
    # Catalogue snapshots on the first day, every 7th day and the last day.
    products = sorted(name for name in texts if name.startswith("landing/products/"))
    assert products == [f"landing/products/dt={day}/products.csv" for day in (DAYS[0], DAYS[-1])]
    assert summary.files == len(texts)
    for source, count in summary.rows.items():
        lines = sum(
            text.count("\n") - (source in CSV_COLUMNS)  # minus the header
            for name, text in texts.items()
            if name.startswith(f"landing/{source}/")
        )
        assert lines == count, source


def test_csv_files_have_exactly_the_contract_columns(zone):
    _, texts = zone
    for name, text in texts.items():
        source = name.split("/")[1]
        if source in CSV_COLUMNS:
            header = next(csv.reader(text.removeprefix("\ufeff").splitlines()))
            assert tuple(header) == CSV_COLUMNS[source], name


def test_json_lines_parse_except_the_injected_malformed_ones(zone):
    summary, texts = zone
    malformed_total = 0
    for source, fields in JSON_FIELDS.items():
        rows, malformed = json_rows(texts, source)
        malformed_total += malformed
        assert rows, source
        for row in rows:
            assert set(row) <= fields and len(fields - set(row)) <= 1, row
    assert malformed_total == summary.bad_rows["malformed_json"] > 0


def test_injected_defects_are_all_present_and_counted(zone):
    summary, texts = zone
    assert all(summary.bad_rows[kind] > 0 for kind in summary.bad_rows), summary.bad_rows
    events, _ = json_rows(texts, "browsing")
    ids = Counter(e["event_id"] for e in events)
    assert sum(n - 1 for n in ids.values()) == summary.bad_rows["duplicate_event"]
    per_file = [
        {json.loads(line)["event_id"] for line in text.splitlines() if line.endswith("}")}
        for name, text in texts.items()
        if name.startswith("landing/browsing/")
    ]
    assert per_file[0] & per_file[1] or per_file[1] & per_file[2]  # later days repeat some ids
    naive = sum(bool(NAIVE.match(e["event_time"])) for e in events)
    naive += sum(bool(NAIVE.match(o["ordered_at"])) for o in csv_rows(texts, "orders"))
    assert naive == summary.bad_rows["naive_timestamp"]
    cards = sum(len(card_numbers(text)) for text in texts.values())
    assert cards == summary.bad_rows["card_number"]
    assert any(card_numbers(r["street"]) for r in csv_rows(texts, "customers"))
    assert (
        sum(text.startswith("\ufeff") for text in texts.values()) == summary.bad_rows["bom_files"]
    )
    assert sum("cookie_id" not in e for e in events) > 0
    consents, _ = json_rows(texts, "consents")
    assert sum("purpose" not in c for c in consents) > 0


def test_a_zero_bad_rate_gives_a_clean_zone(clean_zone):
    summary, texts = clean_zone
    assert set(summary.bad_rows.values()) == {0}
    for name, text in texts.items():
        assert not text.startswith("\ufeff"), name
        assert not card_numbers(text), name
    for source, fields in JSON_FIELDS.items():
        rows, malformed = json_rows(texts, source)
        assert malformed == 0
        assert all(set(row) == fields for row in rows), source
    events, _ = json_rows(texts, "browsing")
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(AWARE.match(e["event_time"]) for e in events)
    orders = csv_rows(texts, "orders")
    assert all(o["order_id"] and AWARE.match(o["ordered_at"]) for o in orders)


def test_minors_are_a_small_share_of_customers_with_a_birth_date(zone):
    _, texts = zone
    births = [
        date.fromisoformat(c["birth_date"]) for c in csv_rows(texts, "customers") if c["birth_date"]
    ]
    ages = [END.year - b.year - ((END.month, END.day) < (b.month, b.day)) for b in births]
    assert 0.03 <= sum(age < 18 for age in ages) / len(ages) <= 0.08
    assert min(ages) >= 13 and max(ages) <= 80


def test_products_have_three_level_categories_and_orders_use_them(zone):
    _, texts = zone
    products = csv_rows(texts, "products")
    assert all(len(p["category_path"].split(" > ")) == 3 for p in products)
    assert {p["in_stock"] for p in products} == {"true", "false"}
    assert all(p["url"] == f"https://www.kalido.fr/p/{p['product_id']}" for p in products)
    catalogue = {p["product_id"] for p in products}
    orders = csv_rows(texts, "orders")
    assert orders and all(o["product_id"] in catalogue for o in orders)
    events, _ = json_rows(texts, "browsing")
    viewed = {e["product_id"] for e in events if e.get("product_id")}
    assert viewed <= catalogue


def test_identifiers_and_values_follow_the_documented_shapes(clean_zone):
    _, texts = clean_zone
    customers = csv_rows(texts, "customers")
    assert all(re.fullmatch(r"C\d{7}", c["customer_id"]) for c in customers)
    assert {c["country"] for c in customers} == {"FR", "BE", "NL"}
    assert {c["account_status"] for c in customers} == {"active", "closed"}
    events, _ = json_rows(texts, "browsing")
    for e in events:
        assert re.fullmatch(r"e_[0-9a-f]{16}", e["event_id"])
        assert re.fullmatch(r"s_[0-9a-f]{16}", e["session_id"])
        assert re.fullmatch(r"ck_[0-9a-f]{16}", e["cookie_id"])
        assert (e["product_id"] is not None) == (e["event_type"] in {"product_view", "add_to_cart"})
    assert {e["event_type"] for e in events} == {
        "page_view",
        "product_view",
        "add_to_cart",
        "search",
    }
    sessions: dict[str, set] = {}
    for e in events:
        sessions.setdefault(e["session_id"], set()).add(e["cookie_id"])
    assert all(len(cookies) == 1 for cookies in sessions.values())
    orders = csv_rows(texts, "orders")
    assert all(re.fullmatch(r"O\d{8}", o["order_id"]) for o in orders)
    assert len({(o["order_id"], o["line_no"]) for o in orders}) == len(orders)
    requests, _ = json_rows(texts, "requests")
    assert {r["type"] for r in requests} == {
        "access",
        "erasure",
        "objection",
        "restriction",
        "portability",
        "rectification",
    }
    consents, _ = json_rows(texts, "consents")
    assert {c["subject_type"] for c in consents} == {"customer", "cookie"}


def test_a_tiny_zone_without_a_logged_in_cart_has_no_web_orders_and_no_crash(tmp_path):
    summary = generate_landing(tmp_path, days=1, users=5, products=1, bad_rate=0.5)
    assert summary.files and (tmp_path / "landing" / "browsing").is_dir()
