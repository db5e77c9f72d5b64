"""`kalido import-events`: public event logs become contract-format landing zones."""

from __future__ import annotations

import csv
import json
from datetime import date

import pyarrow.csv as pcsv
import pytest

from kalido.pipelines.nightly import run_nightly
from kalido.tools import synthetic_retailrocket
from kalido.tools.importers import ImportFormatError, detect_format
from tests.conftest import kalido, query

# 2015-06-01T10:00:00Z in ms; visitor 7 comes back after 31 minutes (a new session), then buys.
T0 = 1433152800000
MINUTE = 60_000
RETAILROCKET = [
    ("timestamp", "visitorid", "event", "itemid", "transactionid"),
    (T0, 7, "view", 100, ""),
    (T0 + 1 * MINUTE, 7, "view", 101, ""),
    (T0 + 2 * MINUTE, 7, "addtocart", 101, ""),
    (T0 + 33 * MINUTE, 7, "view", 102, ""),
    (T0 + 34 * MINUTE, 7, "transaction", 101, 9001),
    (T0 + 34 * MINUTE, 7, "transaction", 102, 9001),
    (T0 + 5 * MINUTE, 8, "view", 100, ""),
    (T0 + 24 * 60 * MINUTE, 8, "view", 103, ""),
    ("not-a-time", 9, "view", 100, ""),
]


def write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def read_jsonl(folder):
    return [json.loads(line) for f in sorted(folder.glob("dt=*/*.jsonl")) for line in open(f)]


def read_csvs(folder):
    rows = []
    for f in sorted(folder.glob("dt=*/*.csv")):
        with open(f, encoding="utf-8") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def test_retailrocket_log_becomes_a_landing_zone_with_sessions_orders_and_consents(tmp_path):
    source = write_csv(tmp_path / "events.csv", RETAILROCKET)
    out = tmp_path / "zone"
    result = kalido("import-events", str(source), "--out", str(out))
    assert "imported retailrocket: rows read 9, skipped 1" in result.stdout
    landing = out / "landing"
    assert sorted(p.name for p in (landing / "browsing").iterdir()) == [
        "dt=2015-06-01",
        "dt=2015-06-02",
    ]
    events = read_jsonl(landing / "browsing")
    assert len(events) == 6 and len({e["event_id"] for e in events}) == 6
    by_visitor = {}
    for e in sorted(events, key=lambda e: e["event_time"]):
        by_visitor.setdefault(e["customer_id"], []).append(e)
    seven = by_visitor["v7"]
    assert [e["event_type"] for e in seven] == ["product_view"] * 2 + ["add_to_cart"] + [
        "product_view"
    ]
    assert seven[0]["session_id"] == seven[2]["session_id"] != seven[3]["session_id"]
    assert seven[0]["event_time"] == "2015-06-01T10:00:00.000Z"
    assert {e["cookie_id"] for e in seven} == {"ck_v7"}
    assert len({e["session_id"] for e in by_visitor["v8"]}) == 2
    orders = read_csvs(landing / "orders")
    assert [(o["order_id"], o["line_no"], o["product_id"], o["customer_id"]) for o in orders] == [
        ("9001", "1", "101", "v7"),
        ("9001", "2", "102", "v7"),
    ]
    customers = read_csvs(landing / "customers")
    assert sorted(c["customer_id"] for c in customers) == ["v7", "v8"]
    assert all(c["account_status"] == "active" and not c["birth_date"] for c in customers)
    consents = read_jsonl(landing / "consents")
    assert {(c["subject_id"], c["purpose"], c["status"]) for c in consents} == {
        (v, p, "granted") for v in ("v7", "v8") for p in ("personalisation", "email_marketing")
    }
    products = read_csvs(landing / "products")
    assert sorted(p["product_id"] for p in products) == ["100", "101", "102", "103"]
    assert {(p["in_stock"], p["category_path"]) for p in products} == {("true", "Imported")}


def test_the_retailrocket_scale_log_is_what_the_importer_reads(tmp_path):
    # `python -m kalido.tools.synthetic_retailrocket` (evaluation at RetailRocket scale),
    # here small: RetailRocket's columns, a few add-to-carts, a third of them bought; the item
    # properties put 97 % of the products in one of the categories.
    table = synthetic_retailrocket.generate(visitors=2_000, products=300, groups=10)
    source = tmp_path / "events.csv"
    pcsv.write_csv(table, source, pcsv.WriteOptions(quoting_style="none"))
    properties = tmp_path / "item_properties.csv"
    pcsv.write_csv(
        synthetic_retailrocket.item_properties(products=300, groups=10, categories=4), properties
    )
    out = tmp_path / "zone"
    result = kalido(
        "import-events", str(source), "--out", str(out), "--categories", str(properties)
    )
    assert f"imported retailrocket: rows read {table.num_rows}, skipped 0" in result.stdout
    kinds = table.column("event").value_counts().to_pylist()
    counts = {k["values"]: k["counts"] for k in kinds}
    assert counts["view"] > 30 * counts["addtocart"] > 0 and counts["transaction"] > 0
    assert table.column("transactionid").null_count == table.num_rows - counts["transaction"]
    assert len(read_csvs(out / "landing" / "orders")) == counts["transaction"]
    paths = [p["category_path"] for p in read_csvs(out / "landing" / "products")]
    assert {f"Category {c}" for c in range(4)} <= set(paths)
    assert 0 < paths.count("Imported") < 0.1 * len(paths)


def test_the_imported_zone_runs_through_the_pipeline(tmp_path, home, monkeypatch):
    source = write_csv(tmp_path / "events.csv", RETAILROCKET)
    kalido("import-events", str(source), "--out", str(home))
    record = run_nightly(date(2015, 6, 2))
    assert record["stages"]["gate"]["may_profile"] == 2
    warehouse = home / "warehouse/analytics.duckdb"
    assert query(warehouse, "select count(distinct user_pid) from views_recent") == [(2,)]
    feed = home / "exports/email_recommendations/dt=2015-06-02/recommendations.csv"
    assert {r["customer_id"] for r in csv.DictReader(feed.read_text().splitlines())} == {"v7", "v8"}


def test_rees46_keeps_sessions_categories_and_brands(tmp_path):
    source = write_csv(
        tmp_path / "2019-Oct.csv",
        [
            (
                "event_time",
                "event_type",
                "product_id",
                "category_id",
                "category_code",
                "brand",
                "price",
                "user_id",
                "user_session",
            ),
            (
                "2019-10-01 00:00:00 UTC",
                "view",
                "5",
                "77",
                "electronics.smartphone",
                "acme",
                "9.5",
                "1",
                "s-a",
            ),
            (
                "2019-10-01 00:01:00 UTC",
                "cart",
                "5",
                "77",
                "electronics.smartphone",
                "acme",
                "9.5",
                "1",
                "s-a",
            ),
            (
                "2019-10-01 00:02:00 UTC",
                "purchase",
                "5",
                "77",
                "electronics.smartphone",
                "acme",
                "9.5",
                "1",
                "s-a",
            ),
            ("2019-10-01 00:03:00 UTC", "view", "6", "78", "", "", "3", "2", "s-b"),
            ("2019-10-01 00:04:00 UTC", "remove_from_cart", "6", "78", "", "", "3", "2", "s-b"),
        ],
    )
    out = tmp_path / "zone"
    kalido("import-events", str(source), "--out", str(out))
    landing = out / "landing"
    events = read_jsonl(landing / "browsing")
    assert [(e["event_type"], e["session_id"]) for e in sorted(events, key=lambda e: e["event_id"])]
    assert {e["session_id"] for e in events} == {"s-a", "s-b"}
    products = {p["product_id"]: p for p in read_csvs(landing / "products")}
    assert products["5"]["category_path"] == "electronics > smartphone"
    assert products["5"]["brand"] == "acme"
    assert products["6"]["category_path"] == "Category 78"
    orders = read_csvs(landing / "orders")
    assert [(o["product_id"], o["unit_price"]) for o in orders] == [("5", "9.50")]


def test_uci_orders_skip_guests_and_mark_cancellations(tmp_path):
    header = (
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    )
    source = write_csv(
        tmp_path / "retail.csv",
        [
            header,
            ("536365", "85123A", "HEART HOLDER", "6", "12/1/2010 8:26", "2.55", "17850.0", "UK"),
            ("536365", "71053", "LANTERN", "6", "12/1/2010 8:26", "3.39", "17850.0", "UK"),
            ("536366", "71053", "LANTERN", "2", "12/1/2010 9:00", "3.39", "", "UK"),
            ("C536379", "71053", "LANTERN", "-1", "2010-12-02 09:41:00", "3.39", "17850", "UK"),
        ],
    )
    out = tmp_path / "zone"
    result = kalido("import-events", str(source), "--out", str(out))
    assert "imported uci: rows read 4, skipped 1" in result.stdout
    orders = read_csvs(out / "landing/orders")
    assert [(o["order_id"], o["customer_id"], o["quantity"], o["status"]) for o in orders] == [
        ("536365", "v17850", "6", "delivered"),
        ("536365", "v17850", "6", "delivered"),
        ("C536379", "v17850", "1", "cancelled"),
    ]
    titles = {p["product_id"]: p["title"] for p in read_csvs(out / "landing/products")}
    assert titles == {"85123A": "HEART HOLDER", "71053": "LANTERN"}


def test_online_retail_ii_in_latin_1_is_read_by_its_own_column_names(tmp_path):
    # UCI Online Retail II renames InvoiceNo, UnitPrice and CustomerID; CSV copies of both are
    # often ISO-8859-1, which a UTF-8 reader refuses.
    source = tmp_path / "online_retail_II.csv"
    source.write_bytes(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,CAFÉ GLASS BALL £5,12,12/1/2009 7:45,6.95,13085.0,United Kingdom\n"
        "489435,22349,DOG BOWL,2,12/1/2009 9:06,3.75,,United Kingdom\n"
        "C489449,85048,CAFÉ GLASS BALL £5,-1,12/1/2009 10:33,6.95,13085.0,France\n".encode(
            "latin-1"
        )
    )
    out = tmp_path / "zone"
    result = kalido("import-events", str(source), "--out", str(out))
    assert "imported uci: rows read 3, skipped 1" in result.stdout
    orders = read_csvs(out / "landing/orders")
    assert [(o["order_id"], o["customer_id"], o["unit_price"], o["status"]) for o in orders] == [
        ("489434", "v13085", "6.95", "delivered"),
        ("C489449", "v13085", "6.95", "cancelled"),
    ]
    titles = {p["product_id"]: p["title"] for p in read_csvs(out / "landing/products")}
    assert titles["85048"] == "CAFÉ GLASS BALL £5"


def test_diginetica_purchases_use_the_category_map_and_sessions_for_anonymous_buyers(tmp_path):
    source = write_csv(
        tmp_path / "train-purchases.csv",
        [
            ("sessionId", "userId", "timeframe", "eventdate", "ordernumber", "itemId"),
            ("150", "18278", "17100868", "2016-05-06", "16421", "25911"),
            ("151", "NA", "6454547", "2016-05-06", "16290", "175874"),
        ],
        delimiter=";",
    )
    cats = write_csv(
        tmp_path / "product-categories.csv",
        [("itemId", "categoryId"), ("25911", "1096")],
        delimiter=";",
    )
    out = tmp_path / "zone"
    kalido("import-events", str(source), "--out", str(out), "--categories", str(cats))
    orders = read_csvs(out / "landing/orders")
    assert sorted(o["customer_id"] for o in orders) == ["v18278", "vs151"]
    paths = {p["product_id"]: p["category_path"] for p in read_csvs(out / "landing/products")}
    assert paths == {"25911": "Category 1096", "175874": "Imported"}


def test_diginetica_item_views_and_purchases_make_one_zone_in_session_order(tmp_path):
    # The views file is not sorted inside a session; 9654's timeframe is past 12 hours (a wrap
    # at 12 hours put it first); the last row has no item.
    views = write_csv(
        tmp_path / "train-item-views.csv",
        [
            ("sessionId", "userId", "itemId", "timeframe", "eventdate"),
            ("1", "NA", "81766", "526309", "2016-05-09"),
            ("1", "NA", "31331", "1031018", "2016-05-09"),
            ("1", "NA", "9654", "43300000", "2016-05-09"),
            ("1", "NA", "32118", "243569", "2016-05-09"),
            ("2", "18278", "25911", "0", "2016-05-10"),
            ("2", "18278", "100", "5000", "2016-05-10"),
            ("3", "NA", "", "10", "2016-05-10"),
        ],
        delimiter=";",
    )
    purchases = write_csv(
        tmp_path / "train-purchases.csv",
        [
            ("sessionId", "userId", "timeframe", "eventdate", "ordernumber", "itemId"),
            ("2", "18278", "9000", "2016-05-10", "16421", "25911"),
        ],
        delimiter=";",
    )
    out = tmp_path / "zone"
    result = kalido("import-events", str(views), str(purchases), "--out", str(out))
    assert "imported diginetica_views+diginetica: rows read 8, skipped 1" in result.stdout
    events = sorted(read_jsonl(out / "landing/browsing"), key=lambda e: e["event_time"])
    assert [(e["customer_id"], e["session_id"], e["product_id"]) for e in events] == [
        ("vs1", "d1", "32118"),
        ("vs1", "d1", "81766"),
        ("vs1", "d1", "31331"),
        ("vs1", "d1", "9654"),
        ("v18278", "d2", "25911"),
        ("v18278", "d2", "100"),
    ]
    assert {e["event_time"][:10] for e in events[:4]} == {"2016-05-09"}
    orders = read_csvs(out / "landing/orders")
    assert [(o["order_id"], o["customer_id"], o["product_id"]) for o in orders] == [
        ("16421", "v18278", "25911")
    ]
    assert events[-1]["event_time"] < orders[0]["ordered_at"].replace("Z", ".000Z")
    products = [p["product_id"] for p in read_csvs(out / "landing/products")]
    assert sorted(products) == ["100", "25911", "31331", "32118", "81766", "9654"]


def test_yoochoose_clicks_and_buys_without_headers_make_sessions_and_orders(tmp_path):
    clicks = tmp_path / "yoochoose-clicks.dat"
    clicks.write_text(
        "1,2014-04-07T10:51:09.277Z,214536502,0\n"
        "1,2014-04-07T10:54:09.868Z,214536500,0\n"
        "2,2014-04-07T13:56:37.614Z,214662742,3\n"
        "2,2014-04-07T13:57:19.373Z,214825110,S\n"
        "2,2014-04-07T13:58:37.446Z,214757390,2053108962\n"
        "3,not-a-time,214757407,0\n",
        encoding="utf-8",
    )
    buys = tmp_path / "yoochoose-buys.dat"
    buys.write_text(
        "2,2014-04-07T14:02:36.889Z,214662742,1046,1\n2,2014-04-07T14:02:36.889Z,214825110,0,0\n",
        encoding="utf-8",
    )
    out = tmp_path / "zone"
    result = kalido("import-events", str(clicks), str(buys), "--out", str(out))
    assert "imported yoochoose_clicks+yoochoose_buys: rows read 8, skipped 1" in result.stdout
    events = sorted(read_jsonl(out / "landing/browsing"), key=lambda e: e["event_time"])
    assert [(e["customer_id"], e["session_id"], e["product_id"]) for e in events] == [
        ("vs1", "y1", "214536502"),
        ("vs1", "y1", "214536500"),
        ("vs2", "y2", "214662742"),
        ("vs2", "y2", "214825110"),
        ("vs2", "y2", "214757390"),
    ]
    orders = read_csvs(out / "landing/orders")
    assert [(o["order_id"], o["customer_id"], o["product_id"], o["quantity"]) for o in orders] == [
        ("os2", "vs2", "214662742", "1"),
        ("os2", "vs2", "214825110", "1"),
    ]
    products = {p["product_id"]: p for p in read_csvs(out / "landing/products")}
    assert products["214662742"]["category_path"] == "Category 3"
    assert products["214757390"]["brand"] == "2053108962"
    assert products["214825110"]["category_path"] == "Imported"


def test_retailrocket_item_properties_give_each_product_its_first_known_category(tmp_path):
    source = write_csv(tmp_path / "events.csv", RETAILROCKET)
    # Split in two files as RetailRocket ships them; 101 is re-categorised after its first
    # snapshot (the first category counts); 102 only has other properties; 103 has none.
    part1 = write_csv(
        tmp_path / "item_properties_part1.csv",
        [
            ("timestamp", "itemid", "property", "value"),
            (T0 + 7 * 24 * 60 * MINUTE, 101, "categoryid", 55),
            (T0, 100, "categoryid", 1338),
            (T0, 100, "available", 1),
            (T0, 102, "888", "1116713 960601 n277.200"),
        ],
    )
    part2 = write_csv(
        tmp_path / "item_properties_part2.csv",
        [("timestamp", "itemid", "property", "value"), (T0, 101, "categoryid", 42)],
    )
    out = tmp_path / "zone"
    kalido("import-events", str(source), "--out", str(out), "--categories", str(part1), str(part2))
    paths = {p["product_id"]: p["category_path"] for p in read_csvs(out / "landing/products")}
    assert paths == {
        "100": "Category 1338",
        "101": "Category 42",
        "102": "Imported",
        "103": "Imported",
    }


def test_sequences_become_one_visitor_per_session_in_file_order(tmp_path):
    source = tmp_path / "sequences.csv"
    source.write_text("1,2,3\n4,4,5\n", encoding="utf-8")
    out = tmp_path / "zone"
    kalido("import-events", str(source), "--out", str(out), "--start-date", "2016-01-01")
    events = sorted(read_jsonl(out / "landing/browsing"), key=lambda e: e["event_time"])
    assert [(e["customer_id"], e["product_id"]) for e in events] == [
        ("vs1", "1"),
        ("vs1", "2"),
        ("vs1", "3"),
        ("vs2", "4"),
        ("vs2", "4"),
        ("vs2", "5"),
    ]


def test_an_unknown_header_is_refused_with_exit_status_2(tmp_path):
    source = write_csv(tmp_path / "x.csv", [("a", "b"), ("1", "2")])
    with pytest.raises(ImportFormatError):
        detect_format(source)
    result = kalido("import-events", str(source), "--out", str(tmp_path / "z"), check=False)
    assert result.returncode == 2 and "unrecognised events file" in result.stderr


def test_a_failed_import_keeps_its_traceback_in_its_own_zone(tmp_path):
    source = write_csv(tmp_path / "events.csv", RETAILROCKET)
    out = tmp_path / "zone"
    # A header of two columns over binary garbage: DuckDB finds no second column to read.
    broken = tmp_path / "categories.csv"
    broken.write_bytes(b'\x00\x01\x02garbage;;;\n"unterminated\n')
    result = kalido(
        "import-events", str(source), "--out", str(out), "--categories", str(broken), check=False
    )
    trace = out / "restricted" / "logs" / "import-events.traceback.txt"
    assert result.returncode == 1 and str(trace) in result.stderr
    assert "Traceback" in trace.read_text()


def test_a_one_column_category_map_is_refused_in_one_line(tmp_path):
    source = write_csv(tmp_path / "events.csv", RETAILROCKET)
    one_column = write_csv(tmp_path / "categories.csv", [("item",), ("100",)])
    result = kalido(
        "import-events",
        str(source),
        "--out",
        str(tmp_path / "z"),
        "--categories",
        str(one_column),
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kalido: import-events: --categories categories.csv: expected an item → category map "
        "(two columns) or RetailRocket item_properties files"
    ]
