"""Public e-commerce event logs → a landing zone in the contract's format (for offline evaluation).

Each supported format has one SQL file (sql/importers/<format>.sql) that reads the log
set-based into the common tables imp_rows (every row: its kind, and whether it is skipped) and
imp_products; collect.sql makes them the import's events, order lines and counts, and one shared
SQL file turns those into contract rows, written one file per source and local day.
"""

from __future__ import annotations

import codecs
import gzip
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kalido.config import Layout
from kalido.db import connect, run_sql

# Header columns (lower case, without spaces) that identify each format, tried in this order
# (DIGINETICA's purchases hold every column of its item views); `sequences` has no header.
SIGNATURES = {
    "retailrocket": {"timestamp", "visitorid", "event", "itemid", "transactionid"},
    "rees46": {"event_time", "event_type", "product_id", "user_id", "user_session"},
    "diginetica": {"sessionid", "userid", "eventdate", "ordernumber", "itemid"},
    "diginetica_views": {"sessionid", "userid", "itemid", "timeframe", "eventdate"},
    "uci": {"stockcode", "quantity", "invoicedate", "customerid"},
}
# UCI Online Retail II's names for Online Retail's InvoiceNo and UnitPrice (its "Customer ID"
# loses its space like every header column).
UCI_ALIASES = {"invoice": "invoiceno", "price": "unitprice"}
# Headerless logs, recognised by their first line: YooChoose's clicks and buys (session id,
# ISO timestamp, item id, then category, or price and quantity).
FIRST_LINES = {
    "yoochoose_clicks": re.compile(r"\d+,\d{4}-\d\d-\d\dt[\d:.]+z,\d+,[^,]*"),
    "yoochoose_buys": re.compile(r"\d+,\d{4}-\d\d-\d\dt[\d:.]+z,\d+,\d+,\d+"),
}
FORMATS = (*SIGNATURES, *FIRST_LINES, "sequences")
# RetailRocket's item_properties files; any other --categories file is a two-column item map.
RETAILROCKET_PROPERTIES = {"timestamp", "itemid", "property", "value"}
# (source, table, file name, format); every contract column in contract order.
OUTPUTS = (
    ("customers", "land_customers", "customers.csv", "csv"),
    ("consents", "land_consents", "consents.jsonl", "json"),
    ("products", "land_products", "products.csv", "csv"),
    ("browsing", "land_browsing", "events.jsonl", "json"),
    ("orders", "land_orders", "orders.csv", "csv"),
)


class ImportFormatError(ValueError):
    """The input's format is not recognised (or does not match the one asked for)."""


@dataclass(frozen=True)
class ImportSummary:
    format: str
    rows_read: int
    rows_skipped: int
    files: int
    rows: dict[str, int]
    first_day: date | None
    last_day: date | None


def _open(path: Path):
    return (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rb")


def _header(path: Path) -> tuple[str, list[str]]:
    """The first line (lower case) and its column names, in order, without quotes or spaces."""
    with _open(path) as handle:
        first = handle.readline().decode("utf-8-sig", errors="replace").strip().lower()
    columns = [re.sub(r"\s", "", c.strip().strip('"')) for c in re.split(r"[,;]", first)]
    return first, [c or f"column{i}" for i, c in enumerate(columns)]


def file_encoding(paths: list[Path]) -> str:
    """'utf-8' when every file decodes as UTF-8, else 'latin-1' (any byte is a character in it):
    public logs are often saved in ISO-8859-1, as UCI Online Retail's CSV copies are."""
    for path in paths:
        decoder = codecs.getincrementaldecoder("utf-8")()
        with _open(path) as handle:
            try:
                while chunk := handle.read(1 << 24):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                return "latin-1"
    return "utf-8"


def detect_format(path: Path) -> str:
    """The format of an events file, recognised from its header (or first) line."""
    first, columns = _header(path)
    for name, signature in SIGNATURES.items():
        if signature <= set(columns):
            return name
    for name, pattern in FIRST_LINES.items():
        if pattern.fullmatch(first):
            return name
    if re.fullmatch(r"\d+(,\d+)*", first):
        return "sequences"
    raise ImportFormatError(
        "unrecognised events file: expected the header of one of "
        + ", ".join(SIGNATURES)
        + ", the lines of "
        + " or ".join(FIRST_LINES)
        + " (or --format sequences)"
    )


def import_events(
    paths: list[Path],
    out: Path,
    fmt: str = "auto",
    categories: list[Path] | None = None,
    timezone: str = "Europe/Paris",
    start: date = date(2016, 1, 1),
    days: int = 90,
) -> ImportSummary:
    """Convert an events log (one or several files of it, e.g. DIGINETICA's item views and
    purchases) into OUT/landing/<source>/dt=YYYY-MM-DD/ files."""
    formats = [detect_format(path) if fmt == "auto" else fmt for path in paths]
    for name in formats:
        if name not in FORMATS:
            raise ImportFormatError(f"unknown format {name}; one of {', '.join(FORMATS)}")
    landing = out / "landing"
    with connect(spill_dir=Layout(out).spill) as con:
        run_sql(con, "importers/file_tables")
        run_sql(con, "importers/imported_tables")
        run_sql(con, "importers/diginetica_macros")
        for path, name in zip(paths, formats, strict=True):
            run_sql(con, "importers/file_tables")
            run_sql(
                con,
                f"importers/{name}",
                {
                    "path": str(path),
                    "encoding": file_encoding([path]),
                    "columns": [UCI_ALIASES.get(c, c) for c in _header(path)[1]],
                    "start": start,
                    "days": days,
                },
            )
            run_sql(con, "importers/collect")
        if categories:
            columns = _header(categories[0])[1]
            properties = RETAILROCKET_PROPERTIES.issubset(columns)
            if not properties and len(columns) < 2:
                raise ImportFormatError(
                    f"--categories {categories[0].name}: expected an item → category map "
                    "(two columns) or RetailRocket item_properties files"
                )
            run_sql(
                con,
                "importers/retailrocket_properties" if properties else "importers/categories",
                {"path": [str(c) for c in categories], "encoding": file_encoding(categories)},
            )
        else:
            con.execute(
                "create temp table imp_categories (product_id varchar, category_path varchar)"
            )
        run_sql(con, "importers/landing_tables", {"timezone": timezone})
        rows_read, rows_skipped = con.execute(
            "select sum(rows_read), sum(rows_skipped) from imported_skipped"
        ).fetchone()
        files, rows, days_seen = 0, {}, set()
        for source, table, name, kind in OUTPUTS:
            rows[source] = 0
            partitions = con.execute(
                f"select dt, count(*) from {table} group by dt order by dt"
            ).fetchall()
            for dt, n in partitions:
                folder = landing / source / f"dt={dt.isoformat()}"
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{name}.tmp"
                options = "format json" if kind == "json" else "format csv, header true"
                # The table name comes from OUTPUTS (fixed), the day is a bound parameter.
                con.execute(
                    f"copy (select * exclude (dt) from {table} where dt = $dt order by all) "
                    f"to $p ({options})",
                    {"dt": dt, "p": str(tmp)},
                )
                tmp.replace(folder / name)
                files += 1
                rows[source] += n
                days_seen.add(dt)
    return ImportSummary(
        format="+".join(formats),
        rows_read=rows_read,
        rows_skipped=rows_skipped,
        files=files,
        rows=rows,
        first_day=min(days_seen) if days_seen else None,
        last_day=max(days_seen) if days_seen else None,
    )
