"""Tiny hand-made landing zones in the contract's format (not the generator's), for scenarios."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kalido.contract import SOURCES

CUSTOMER_COLUMNS = SOURCES["customers"].columns
ORDER_COLUMNS = SOURCES["orders"].columns
PRODUCT_COLUMNS = SOURCES["products"].columns


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Landing:
    """Writes files under home/landing/<source>/dt=<day>/ with the formats the contract lists."""

    def __init__(self, home: Path):
        self.home = home
        self.counter = 0

    def path(self, source: str, day: date, name: str) -> Path:
        folder = self.home / "landing" / source / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def csv(self, source: str, day: date, columns, rows, name=None, gz=False, bom=False) -> Path:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
        data = ("\ufeff" if bom else "") + buffer.getvalue()
        self.counter += 1
        path = self.path(source, day, name or f"part{self.counter}.csv" + (".gz" if gz else ""))
        raw = data.encode("utf-8")
        path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
        return path

    def jsonl(self, source: str, day: date, rows, name=None, gz=False, extra_lines=()) -> Path:
        lines = [json.dumps(row, ensure_ascii=False) for row in rows] + list(extra_lines)
        raw = ("\n".join(lines) + "\n").encode("utf-8")
        self.counter += 1
        path = self.path(source, day, name or f"part{self.counter}.jsonl" + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
        return path

    def parquet(self, source: str, day: date, rows, name=None) -> Path:
        self.counter += 1
        path = self.path(source, day, name or f"part{self.counter}.parquet")
        pq.write_table(pa.Table.from_pylist(list(rows)), path)
        return path

    # --- row builders -------------------------------------------------------------------------

    @staticmethod
    def customer(customer_id: str, birth_date: str = "1985-04-02", **overrides) -> dict:
        row = {
            "customer_id": customer_id,
            "email": f"{customer_id.lower()}@example.fr",
            "first_name": "Camille",
            "last_name": f"Durand{customer_id}",
            "phone": "+33 6 12 34 56 78",
            "street": "12 rue des Lilas",
            "postal_code": "75011",
            "city": "Paris",
            "country": "FR",
            "birth_date": birth_date,
            "gender": "F",
            "created_at": "2024-01-10T09:00:00Z",
            "last_login_at": "2026-11-01T09:00:00Z",
            "updated_at": "2026-11-01T09:00:00Z",
            "account_status": "active",
        }
        row.update(overrides)
        return row

    @staticmethod
    def consent(
        subject_id,
        purpose,
        status="granted",
        at="2026-01-01T00:00:00Z",
        subject_type="customer",
        source="signup",
    ) -> dict:
        return {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "purpose": purpose,
            "status": status,
            "recorded_at": at,
            "source": source,
        }

    def event(
        self,
        cookie_id,
        customer_id,
        product_id,
        at: datetime,
        session="s1",
        event_type="product_view",
        **overrides,
    ) -> dict:
        self.counter += 1
        row = {
            "event_id": f"ev{self.counter:07d}",
            "event_time": iso(at),
            "event_type": event_type,
            "cookie_id": cookie_id,
            "customer_id": customer_id,
            "session_id": f"{cookie_id}-{session}",
            "product_id": product_id,
            "page_url": f"https://www.kalido.fr/p/{product_id}",
            "referrer": None,
            "ip_address": "203.0.113.77",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        }
        row.update(overrides)
        return row

    @staticmethod
    def request(request_id, customer_id, kind, at="2026-11-24T08:00:00Z", purpose=None) -> dict:
        return {
            "request_id": request_id,
            "customer_id": customer_id,
            "type": kind,
            "purpose": purpose,
            "received_at": at,
        }

    @staticmethod
    def order(**overrides) -> dict:
        """One placed order line of C1 (every field text, as in a CSV)."""
        row = {
            "order_id": "O1",
            "line_no": "1",
            "customer_id": "C1",
            "ordered_at": "2026-11-24T10:00:00Z",
            "product_id": "P001",
            "quantity": "1",
            "unit_price": "9.90",
            "currency": "EUR",
            "channel": "web",
            "status": "placed",
        }
        return row | overrides

    @staticmethod
    def product(product_id, category="Maison > Cuisine > Cafetières", in_stock=True, price="19.90"):
        return {
            "product_id": product_id,
            "title": f"Produit {product_id}",
            "category_path": category,
            "brand": "Marque",
            "price": price,
            "currency": "EUR",
            "in_stock": "true" if in_stock else "false",
            "url": f"https://www.kalido.fr/p/{product_id}",
            "updated_at": "2026-10-01T00:00:00Z",
        }


def catalogue(n: int = 60) -> list[dict]:
    """Products spread over three leaf categories."""
    leaves = [
        "Maison > Cuisine > Cafetières",
        "Maison > Cuisine > Poêles",
        "Sport > Vélo > Casques",
    ]
    return [Landing.product(f"P{i:03d}", leaves[i % 3]) for i in range(n)]


def day_range(start: date, days: int):
    return [start + timedelta(days=i) for i in range(days)]
