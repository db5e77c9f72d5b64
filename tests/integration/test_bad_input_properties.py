"""Properties of ingest and the night under random input (hypothesis, derandomised for CI).

Random bytes, random Unicode and card numbers behind random separators are thrown into every
source. Two things must hold whatever comes: every row read is accounted for, and no planted
value (a card number anywhere, personal data in a field that leaves the restricted zone) is found
outside landing/, restricted/ and exports/.
"""

from __future__ import annotations

import json
import random
import tempfile
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalido.config import load_settings
from kalido.lifeline import environment
from kalido.pipelines.ingest import ingest
from kalido.pipelines.nightly import run_nightly
from kalido.policy import load_policy
from tests.conftest import KEY, query
from tests.integration.test_dsr import (
    assert_in_no_file,
    duckdb_values_containing,
    parquet_values_containing,
)
from tests.landing import CUSTOMER_COLUMNS, ORDER_COLUMNS, PRODUCT_COLUMNS, Landing, catalogue

D = date(2026, 11, 24)
AT = datetime(2026, 11, 24, 10, 0)
SEPARATORS = [" ", "  ", "-", ".", "/", "+", "%20", "\u00a0", "\u3000", "\u2013", "_", ""]
FULL_WIDTH = str.maketrans(
    "0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19"
)


def luhn_complete(body: str) -> str:
    """body plus the check digit that makes it Luhn-valid."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


@st.composite
def card_numbers(draw) -> tuple[str, str]:
    """(the digits, the number as typed: random groups, separators, maybe full-width)."""
    length = draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    digits = luhn_complete("4" + body[1:])
    cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=5)))
    groups = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, length], strict=True)]
    separator = draw(st.sampled_from(SEPARATORS))
    typed = separator.join(groups)
    if draw(st.booleans()):
        typed = typed.translate(FULL_WIDTH)
    return digits, typed


noise = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30
)


@contextmanager
def fresh_home():
    with tempfile.TemporaryDirectory(prefix="kalido-prop-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        with environment(KALIDO_HOME=str(home), KALIDO_PSEUDONYM_KEY=KEY):
            yield home


def stored_card_digits(home: Path, digits: list[str]) -> list[str]:
    """Planted card numbers found, as digits, in any restricted or derived file."""
    found = []
    needles = [d.encode() for d in digits]
    for path in home.rglob("*"):
        if not path.is_file() or path.is_relative_to(home / "landing"):
            continue
        if path.suffix == ".duckdb":
            found += duckdb_values_containing(path, needles)
        elif path.suffix == ".parquet":
            found += parquet_values_containing(path, needles)
        else:
            found += [str(path) for n in needles if n in path.read_bytes()]
    return found


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    cards=st.lists(card_numbers(), min_size=1, max_size=4),
    junk=st.lists(st.binary(max_size=60), max_size=4),
    texts=st.lists(noise, min_size=4, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_every_row_is_accounted_for_and_no_card_number_is_stored(cards, junk, texts, seed):
    rng = random.Random(seed)
    with fresh_home() as home:
        landing = Landing(home)
        events, consents, orders = [], [], []
        for n, text in enumerate(texts):
            field = rng.choice(["event_id", "page_url", "referrer", "user_agent", "product_id"])
            event = landing.event("ck1", None, f"P{n:03d}", AT)
            events.append(event | {field: text or None})
            consents.append(Landing.consent(f"C{n}", "personalisation", source=text))
            row = {c: "" for c in ORDER_COLUMNS} | {
                "order_id": f"O{n}",
                "line_no": "1",
                "customer_id": f"C{n}",
                "ordered_at": "2026-11-24T10:00:00Z",
                "product_id": text or "P001",
                "quantity": rng.choice(["1", "2", "1.5", text]),
                "unit_price": "9.90",
                "currency": "EUR",
                "status": "placed",
            }
            orders.append(row)
        for _, typed in cards:
            target = rng.choice(["event", "consent", "order"])
            if target == "event":
                field = rng.choice(["page_url", "referrer", "user_agent", "session_id"])
                events.append(landing.event("ck1", None, "P001", AT, **{field: f"x {typed} y"}))
            elif target == "consent":
                consents.append(Landing.consent("C1", "personalisation", source=typed))
            else:
                orders.append(orders[0] | {"order_id": "OC", "channel": typed})
        lines = [json.dumps(e, ensure_ascii=rng.random() < 0.5) for e in events]
        path = landing.path("browsing", D, "events.jsonl")
        path.write_bytes(b"\n".join([*(line.encode() for line in lines), *junk]) + b"\n")
        landing.jsonl("consents", D, consents)
        landing.csv("orders", D, ORDER_COLUMNS, orders)
        written_rows = {
            "events.jsonl": sum(1 for x in [*lines, *junk] if x.strip()),
            "orders": len(orders),
        }

        totals = ingest(load_settings(), load_policy(), D, "prop")

        files = query(
            home / "restricted/raw.duckdb",
            "select path, status, rows_read, rows_loaded, rows_quarantined, duplicates_dropped"
            " from ingest_ledger",
        )
        assert len(files) == 3 and totals["files_failed"] == 0
        for path_, status, read, loaded, quarantined, duplicates in files:
            assert status == "ingested", path_
            assert read == loaded + quarantined + duplicates, path_
        read_of = {p.rsplit("/", 1)[-1]: read for p, _, read, *_ in files}
        assert read_of["events.jsonl"] == written_rows["events.jsonl"]
        assert stored_card_digits(home, [digits for digits, _ in cards]) == []


EMAIL = "planted.person@example.org"
PHONE = "+33 6 98 76 54 32"


@pytest.mark.slow
@settings(max_examples=3, deadline=None, derandomize=True)
@given(
    fields=st.lists(
        st.sampled_from(
            [
                ("browsing", "event_id"),
                ("browsing", "product_id"),
                ("browsing", "page_url"),
                ("consents", "source"),
                ("orders", "product_id"),
                ("products", "title"),
                ("products", "brand"),
                ("products", "url"),
            ]
        ),
        min_size=2,
        max_size=4,
        unique=True,
    ),
    planted=st.sampled_from([EMAIL, PHONE]),
    card=card_numbers(),
)
def test_no_planted_value_reaches_anything_outside_the_restricted_zone(fields, planted, card):
    digits, typed = card
    with fresh_home() as home:
        landing = Landing(home)
        people = [f"C{i}" for i in range(10)]
        day0 = D - timedelta(days=1)
        landing.csv(
            "customers", day0, CUSTOMER_COLUMNS, [Landing.customer(c, "1980-05-05") for c in people]
        )
        products = catalogue(12)
        consents = [
            Landing.consent(c, p) for c in people for p in ("personalisation", "email_marketing")
        ]
        events = [
            landing.event(f"ck_{c}", c, f"P{k:03d}", AT - timedelta(minutes=k))
            for c in people
            for k in range(5)
        ]
        orders = [
            {c: "" for c in ORDER_COLUMNS}
            | {
                "order_id": f"O{c}",
                "line_no": "1",
                "customer_id": c,
                "ordered_at": "2026-11-24T09:00:00Z",
                "product_id": "P001",
                "quantity": "1",
                "unit_price": "9.90",
                "currency": "EUR",
                "status": "placed",
            }
            for c in people
        ]
        rows = {"browsing": events, "consents": consents, "orders": orders, "products": products}
        for source, field in fields:
            rows[source][0][field] = f"see {planted}"
        events[1]["user_agent"] = f"Mozilla/5.0 card {typed}"
        landing.csv("products", day0, PRODUCT_COLUMNS, products)
        landing.jsonl("consents", day0, consents)
        landing.jsonl("browsing", D, events)
        landing.csv("orders", D, ORDER_COLUMNS, orders)
        run_nightly(D)

        allowed = [home / "landing", home / "restricted", home / "exports"]
        scanned = [
            path
            for path in home.rglob("*")
            if path.is_file() and not any(path.is_relative_to(a) for a in allowed)
        ]
        assert len(scanned) > 5
        assert_in_no_file(home, scanned, [planted.encode(), digits.encode()])
        assert stored_card_digits(home, [digits]) == []
