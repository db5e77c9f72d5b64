"""Synthetic landing zone in the data contract's format: reproducible, fast, with realistic defects.

Every source is written under OUT/landing/<source>/dt=YYYY-MM-DD/ for `days` consecutive days
ending at `end_date`. All randomness flows from one seed and nothing reads the clock, so the same
arguments always give the same bytes. Browsing, the big source, is simulated with numpy arrays and
turned into JSON text with pyarrow in chunks; only customer identities go through Faker.
"""

from __future__ import annotations

import csv
import io
import json
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker
from isal import igzip

from kalido.contract import SOURCES as CONTRACT

DEFAULT_END_DATE = date(2026, 11, 24)

BUSINESS_TZ = ZoneInfo("Europe/Paris")
SITE = "https://www.kalido.fr"
SOURCES = ("customers", "consents", "browsing", "orders", "products", "requests")
BAD_KINDS = (
    "malformed_json",
    "missing_field",
    "bad_timestamp",
    "duplicate_event",
    "card_number",
    "naive_timestamp",
    "bom_files",
)
# The row-level defects each source receives; the source's share bad_rate is split between them.
DEFECTS_BY_SOURCE = {
    "browsing": (
        "malformed_json",
        "missing_field",
        "bad_timestamp",
        "duplicate_event",
        "card_number",
        "naive_timestamp",
    ),
    "consents": ("malformed_json", "missing_field", "bad_timestamp"),
    "orders": ("missing_field", "bad_timestamp", "naive_timestamp"),
    "customers": ("card_number",),
}
BAD_TIMESTAMPS = ("31/02/2026 25:61", "2026-02-30T25:61:00Z", "2026-13-45 99:99", "hier soir")
BOM_SHARE = 0.25  # of CSV files, when bad_rate > 0
# The generator writes exactly the columns the ingest reads.
CUSTOMER_COLUMNS = CONTRACT["customers"].columns
ORDER_COLUMNS = CONTRACT["orders"].columns
PRODUCT_COLUMNS = CONTRACT["products"].columns


# Volumes: per customer and day unless noted.
EVENTS_PER_USER = 10
ORDERS_PER_USER = 0.075
STORE_ORDER_SHARE = 0.05
SIGNUPS_PER_USER = 0.002
CONSENT_CHANGES_PER_USER = 0.0015
ACCOUNT_CHANGES_PER_USER = 0.001
REQUESTS_PER_USER = 1 / 500  # over the whole window
PRODUCTS_PER_LEAF = 12
SNAPSHOT_EVERY_DAYS = 7
# Session length: rint(lognormal(1.6, 0.8)) clipped to 1..30 averages about 6.6 events.
MEAN_SESSION_EVENTS = 6.6
WEEKDAY_TRAFFIC = (0.95, 0.92, 0.95, 0.98, 1.02, 1.1, 1.08)
# Local hour of day → relative share of sessions starting then.
HOURLY_TRAFFIC = np.array(
    [4, 2.5, 1.5, 1, 1, 2, 5, 10, 14, 16, 17, 18, 20, 19, 18, 18, 19, 21, 24, 27, 28, 24, 16, 9]
)
CHUNK_ROWS = 250_000  # rows turned into text at a time: bounds memory on 10M-event days
GZIP_LEVEL = 1  # ISA-L's fast level: compressing browsing dominates the run time

# Category tree: top → mid → product nouns (singular). A leaf is named by the noun's plural,
# given after "|" where the simple rule in _plural would get it wrong.
TAXONOMY: dict[str, dict[str, tuple[str, ...]]] = {
    "Maison": {
        "Cuisine": ("Cafetière", "Poêle", "Casserole", "Bouilloire"),
        "Linge de maison": (
            "Drap housse|Draps housses",
            "Housse de couette",
            "Serviette de bain",
            "Plaid",
        ),
        "Décoration": ("Vase", "Bougie parfumée|Bougies parfumées", "Cadre photo", "Miroir"),
        "Rangement": ("Boîte de rangement", "Étagère murale|Étagères murales", "Panier en osier"),
        "Luminaires": ("Lampe de chevet", "Suspension", "Lampadaire"),
    },
    "Électroménager": {
        "Petit-déjeuner": (
            "Grille-pain",
            "Machine à expresso",
            "Presse-agrumes",
            "Bouilloire électrique|Bouilloires électriques",
        ),
        "Préparation culinaire": (
            "Robot pâtissier|Robots pâtissiers",
            "Blender",
            "Mixeur plongeant|Mixeurs plongeants",
            "Balance de cuisine",
        ),
        "Entretien des sols": (
            "Aspirateur balai|Aspirateurs balais",
            "Aspirateur robot|Aspirateurs robots",
            "Nettoyeur vapeur",
        ),
        "Soin du linge": ("Fer à repasser", "Centrale vapeur", "Défroisseur"),
        "Climatisation": (
            "Ventilateur",
            "Radiateur d'appoint",
            "Purificateur d'air",
            "Déshumidificateur",
        ),
    },
    "High-Tech": {
        "Audio": (
            "Casque audio",
            "Écouteurs sans fil",
            "Enceinte Bluetooth",
            "Barre de son",
        ),
        "Téléphonie": (
            "Smartphone",
            "Coque de téléphone",
            "Chargeur rapide|Chargeurs rapides",
            "Batterie externe|Batteries externes",
        ),
        "Informatique": (
            "Ordinateur portable|Ordinateurs portables",
            "Souris sans fil",
            "Clavier",
            "Écran",
        ),
        "Photo": ("Appareil photo", "Objectif", "Trépied"),
        "Maison connectée": (
            "Ampoule connectée|Ampoules connectées",
            "Caméra de surveillance",
            "Prise connectée|Prises connectées",
        ),
    },
    "Mode": {
        "Femme": ("Robe", "Chemisier", "Jean", "Pull"),
        "Homme": ("Chemise", "Polo", "Veste", "Pantalon chino|Pantalons chinos"),
        "Chaussures": ("Basket", "Bottine", "Sandale", "Mocassin"),
        "Accessoires": ("Sac à main", "Ceinture", "Écharpe", "Montre"),
        "Enfant": ("Pyjama", "Body bébé|Bodys bébé", "Doudoune", "Legging"),
    },
    "Beauté": {
        "Soins du visage": (
            "Crème hydratante|Crèmes hydratantes",
            "Sérum",
            "Nettoyant visage",
            "Masque visage",
        ),
        "Maquillage": ("Rouge à lèvres", "Mascara", "Fond de teint", "Palette de fards"),
        "Parfums": ("Eau de parfum", "Eau de toilette", "Coffret parfum"),
        "Cheveux": ("Shampoing", "Après-shampoing", "Sèche-cheveux", "Lisseur"),
        "Corps": ("Gel douche", "Lait corporel|Laits corporels", "Déodorant"),
    },
    "Sport": {
        "Running": (
            "Chaussure de running",
            "Montre GPS",
            "Gourde",
            "Brassière de sport",
        ),
        "Vélo": (
            "Casque vélo",
            "Antivol",
            "Éclairage vélo",
            "Vélo électrique|Vélos électriques",
        ),
        "Fitness": (
            "Tapis de yoga",
            "Haltère",
            "Élastique de musculation",
            "Banc de musculation",
        ),
        "Randonnée": ("Sac à dos", "Tente", "Sac de couchage", "Bâton de marche"),
        "Sports collectifs": ("Ballon de football", "Maillot", "Protège-tibia"),
    },
    "Jardin": {
        "Outillage": ("Sécateur", "Tondeuse", "Taille-haie", "Débroussailleuse"),
        "Mobilier de jardin": ("Salon de jardin", "Parasol", "Transat", "Hamac"),
        "Plantes": ("Plante d'intérieur", "Pot de fleurs", "Terreau"),
        "Barbecue": ("Barbecue", "Plancha", "Housse de barbecue"),
        "Arrosage": ("Tuyau d'arrosage", "Arrosoir", "Programmateur d'arrosage"),
    },
    "Jeux & Loisirs": {
        "Jouets": (
            "Peluche",
            "Jeu de construction",
            "Poupée",
            "Voiture miniature|Voitures miniatures",
        ),
        "Jeux de société": ("Jeu de plateau", "Puzzle", "Jeu de cartes"),
        "Livres": (
            "Roman",
            "Album jeunesse|Albums jeunesse",
            "Livre de cuisine",
            "Guide de voyage",
        ),
        "Loisirs créatifs": ("Kit de peinture", "Feutre", "Carnet de croquis"),
        "Musique": ("Guitare", "Ukulélé", "Piano numérique|Pianos numériques", "Micro"),
    },
}
# Five house brands per top category, in TAXONOMY order.
BRANDS = (
    ("Maison Lumière", "Atelier Verdon", "Cocon & Co", "Linéa", "Kalido Home"),
    ("Vaillard", "Électra", "Cuisinor", "Thermis", "Kalido Essentiel"),
    ("Novatek", "Sonéo", "Pixalis", "Voltéo", "Kalido Tech"),
    ("Belle Allure", "Jules & Léa", "Maison Garance", "Ocre", "Kalido Mode"),
    ("Fleur de Sel", "Éclat Paris", "Botania", "Céleste", "Kalido Beauté"),
    ("Altitude", "Vélocité", "Gravel & Co", "Azur Sport", "Kalido Sport"),
    ("Verdure", "Jardinier Malin", "Terra", "Bois Doré", "Kalido Jardin"),
    ("Ludika", "Petit Génie", "Crayonnade", "Mélodia", "Kalido Kids"),
)
QUALIFIERS = (
    "Classique",
    "Essentiel",
    "Premium",
    "Confort",
    "Compact",
    "Pro",
    "Évolution",
    "Signature",
    "Nature",
    "Urban",
    "Élégance",
    "Original",
    "Duo",
    "Mini",
    "Max",
)
COLOURS = (
    "noir",
    "blanc",
    "gris anthracite",
    "bleu nuit",
    "rouge",
    "vert sauge",
    "beige",
    "rose poudré",
    "terracotta",
    "jaune moutarde",
)
USER_AGENTS = (  # (user agent, is mobile, share of cookies)
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        False,
        0.22,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        False,
        0.08,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        False,
        0.08,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
        False,
        0.06,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        False,
        0.06,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        True,
        0.25,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        True,
        0.18,
    ),
    ("Mozilla/5.0 (Android 14; Mobile; rv:132.0) Gecko/132.0 Firefox/132.0", True, 0.03),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        True,
        0.04,
    ),
)
EXTERNAL_REFERRERS = (  # (referrer of a session's first event, share); None = typed or bookmark
    (None, 0.45),
    ("https://www.google.fr/", 0.25),
    ("https://www.google.com/", 0.07),
    ("https://www.bing.com/", 0.03),
    ("https://www.facebook.com/", 0.06),
    ("https://www.instagram.com/", 0.06),
    ("https://email.kalido.fr/newsletter", 0.08),
)
IPV4_FIRST_OCTETS = np.array(
    [2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92]
    + [93, 94, 109, 176, 178, 185, 188, 195, 212, 213, 217]
)
IPV6_PREFIXES = ("2a01:cb00", "2a01:e0a0", "2a02:8428", "2001:0861", "2a02:a03f", "2a02:a440")
IPV6_SHARE = 0.1
OFFSET_TIMESTAMP_SHARE = 0.1  # browsing times written with the local offset instead of Z

LOCALES = ("fr_FR", "fr_BE", "nl_BE", "nl_NL")
LOCALE_SHARES = (0.68, 0.12, 0.08, 0.12)
LOCALE_COUNTRY = {"fr_FR": "FR", "fr_BE": "BE", "nl_BE": "BE", "nl_NL": "NL"}
EMAIL_DOMAINS = {
    "FR": ("gmail.com", "orange.fr", "free.fr", "hotmail.fr", "laposte.net", "sfr.fr", "yahoo.fr"),
    "BE": ("gmail.com", "skynet.be", "telenet.be", "hotmail.com", "outlook.be"),
    "NL": ("gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl", "outlook.com"),
}
# Faker has no French-speaking Belgian addresses; these give fr_BE customers real ones.
WALLOON_TOWNS = (
    ("1000", "Bruxelles"),
    ("1050", "Ixelles"),
    ("1180", "Uccle"),
    ("1030", "Schaerbeek"),
    ("1070", "Anderlecht"),
    ("1300", "Wavre"),
    ("1348", "Louvain-la-Neuve"),
    ("1400", "Nivelles"),
    ("1410", "Waterloo"),
    ("4000", "Liège"),
    ("4100", "Seraing"),
    ("4800", "Verviers"),
    ("5000", "Namur"),
    ("6000", "Charleroi"),
    ("6700", "Arlon"),
    ("7000", "Mons"),
    ("7100", "La Louvière"),
    ("7500", "Tournai"),
    ("7700", "Mouscron"),
)
GENDERS = ("F", "M", "X", "")
GENDER_SHARES = (0.49, 0.45, 0.01, 0.05)

CUSTOMER_PURPOSES = ("personalisation", "email_marketing", "partner_offers", "partner_sharing")
PURPOSES = CONTRACT["consents"].values("purpose")
CONSENT_SOURCES = ("signup", "preference_centre", "cookie_banner", "email", "post")
EVENT_TYPES = CONTRACT["browsing"].values("event_type")
# The simulation codes events by their index in the contract's list.
PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, SEARCH = (
    EVENT_TYPES.index(t) for t in ("page_view", "product_view", "add_to_cart", "search")
)
REQUEST_TYPES = CONTRACT["requests"].values("type")
REQUEST_SHARES = (0.3, 0.2, 0.2, 0.05, 0.1, 0.15)
ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_MASK60 = np.uint64((1 << 60) - 1)


@dataclass(frozen=True)
class GenerateSummary:
    """What generate_landing wrote."""

    out: Path
    first_date: date
    last_date: date
    files: int
    rows: dict[str, int]  # rows written per source, including the injected bad rows
    bad_rows: dict[str, int]  # injected bad rows per kind (BAD_KINDS)


def generate_landing(
    out: Path,
    days: int,
    users: int,
    products: int,
    seed: int = 42,
    end_date: date = DEFAULT_END_DATE,
    bad_rate: float = 0.005,
) -> GenerateSummary:
    """Write a synthetic landing zone under out/landing for the `days` days ending at end_date."""
    if days < 1 or users < 1 or products < 1:
        raise ValueError("days, users and products must be at least 1")
    if not 0 <= bad_rate < 1:
        raise ValueError("bad_rate must be in [0, 1)")
    return _Generator(Path(out), days, users, products, seed, end_date, bad_rate).run()


# --- small helpers ------------------------------------------------------------------------------


def _plural(noun: str) -> str:
    """French plural of a product noun: explicit after '|', else by its first word."""
    if "|" in noun:
        return noun.split("|", 1)[1]
    first, _, rest = noun.partition(" ")
    if first.endswith(("s", "x", "z")):
        plural = first
    elif first.endswith(("au", "eu")):
        plural = first + "x"
    elif first.endswith("al"):
        plural = first[:-2] + "aux"
    else:
        plural = first + "s"
    return f"{plural} {rest}" if rest else plural


def _ascii_slug(text: str, separator: str = "-") -> str:
    """Lower-case ASCII words joined by `separator` (for URLs and e-mail addresses)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    return separator.join(words)


def _years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _local_midnight(day: date) -> int:
    """Epoch seconds of midnight starting `day` in the business time zone."""
    return int(datetime.combine(day, time(), BUSINESS_TZ).timestamp())


def _utc_offset(epoch: int) -> int:
    """Offset of the business time zone from UTC, in seconds, at an instant."""
    return int(datetime.fromtimestamp(epoch, BUSINESS_TZ).utcoffset().total_seconds())


def _day_offsets(epochs: np.ndarray, start: int, end: int) -> np.ndarray:
    """UTC offsets for instants within one local day, which may contain a DST change."""
    before, after = _utc_offset(start), _utc_offset(end - 1)
    if before == after:
        return np.full(len(epochs), before, np.int64)
    low, high = start, end - 1  # bisect the first second on the new offset
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _utc_offset(middle) == before else (low, middle)
    return np.where(epochs < high, before, after)


def _iso_z(epoch: int) -> str:
    """An instant as ISO-8601 UTC with Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_naive_local(epoch: int) -> str:
    """An instant as Paris wall-clock time without offset, as some source systems send it."""
    return datetime.fromtimestamp(epoch, BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as an (n, width) ASCII matrix."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values.astype(np.int64)[:, None] // powers % 10 + 48).astype(np.uint8)


def _matrix(n: int, *parts: bytes | np.ndarray) -> np.ndarray:
    """Concatenate constant byte strings and (n, k) byte matrices column-wise."""
    columns = [
        np.broadcast_to(np.frombuffer(part, np.uint8), (n, len(part)))
        if isinstance(part, bytes)
        else part
        for part in parts
    ]
    return np.concatenate(columns, axis=1)


def _strings(matrix: np.ndarray) -> pa.Array:
    """Fixed-width ASCII rows of a byte matrix as an Arrow string array, without Python objects."""
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _quoted(values: Iterable[str | None]) -> pa.Array:
    """JSON fragments for a small dictionary of strings: quoted, or null."""
    return pa.array(
        ["null" if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string()
    )


def _iso_matrix(wall: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DDTHH:MM:SS' for wall-clock seconds since 1970 as an (n, 19) byte matrix."""
    days = wall // 86400
    seconds = wall - days * 86400
    calendar_day = days.astype("datetime64[D]")
    month_start = calendar_day.astype("datetime64[M]")
    year = calendar_day.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (calendar_day - month_start).astype(np.int64) + 1
    n = len(wall)
    return _matrix(
        n,
        _digits(year, 4),
        b"-",
        _digits(month, 2),
        b"-",
        _digits(day, 2),
        b"T",
        _digits(seconds // 3600, 2),
        b":",
        _digits(seconds // 60 % 60, 2),
        b":",
        _digits(seconds % 60, 2),
    )


def _quoted_times(epochs: np.ndarray, offsets: np.ndarray, with_offset: np.ndarray) -> pa.Array:
    """Quoted ISO-8601 times: UTC with Z, or local time with its offset where `with_offset`."""
    n = len(epochs)
    utc = _strings(_matrix(n, b'"', _iso_matrix(epochs), b'Z"'))
    if not with_offset.any():
        return utc
    sign = np.where(offsets < 0, ord("-"), ord("+")).astype(np.uint8)[:, None]
    minutes = np.abs(offsets) // 60
    local = _matrix(
        n,
        b'"',
        _iso_matrix(epochs + offsets),
        sign,
        _digits(minutes // 60, 2),
        b":",
        _digits(minutes % 60, 2),
        b'"',
    )
    return pc.if_else(pa.array(with_offset), _strings(local), utc)


def _scramble(counters: np.ndarray, key: int) -> np.ndarray:
    """A keyed bijection on 60-bit integers: distinct counters give distinct, random-looking ids."""
    x = (counters.astype(np.uint64) ^ np.uint64(key)) & _MASK60
    for multiplier, shift in ((0x9E3779B97F4A7C15, 29), (0xBF58476D1CE4E5B9, 31)):
        x = (x * np.uint64(multiplier)) & _MASK60  # odd multiplier modulo 2**60: a bijection
        x ^= x >> np.uint64(shift)
    return x


def _hex_ids(prefix: bytes, counters: np.ndarray, key: int) -> pa.Array:
    """Quoted ids `prefix` + 16 hex digits, unique per counter."""
    x = _scramble(counters, key)
    nibbles = (x[:, None] >> np.arange(56, -1, -4, dtype=np.uint64)) & np.uint64(15)
    # A letter in the middle caps runs of decimal digits at 8, so an id never looks like a card.
    letter = (np.uint64(10) + x % np.uint64(6))[:, None]
    hex_digits = _HEX[np.concatenate([nibbles[:, :7], letter, nibbles[:, 7:]], axis=1)]
    return _strings(_matrix(len(x), b'"' + prefix, hex_digits, b'"'))


def _json_lines(fields: list[tuple[str, pa.Array]]) -> pa.Array:
    """One JSON object per row, newline-terminated, from columns of ready JSON fragments."""
    # The fragments come from fixed alphabets (ids, URLs, user agents) or json.dumps, so plain
    # concatenation gives exactly what json.dumps(..., separators=(",", ":")) would.
    parts: list[str | pa.Array] = []
    for position, (name, values) in enumerate(fields):
        parts += [("{" if position == 0 else ",") + json.dumps(name) + ":", values]
    return pc.binary_join_element_wise(*parts, "}\n", "")


def _text_of(lines: pa.Array) -> memoryview:
    """The concatenated bytes of a string array, straight from its data buffer."""
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset :]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[len(lines)]]


def _dumps(row: dict) -> str:
    """A JSON line in the same compact form as _json_lines."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def _card_number(rng: np.random.Generator) -> str:
    """A Luhn-valid 16-digit Visa or Mastercard number, grouped by spaces or dashes."""
    prefix = [4] if rng.random() < 0.6 else [5, int(rng.integers(1, 6))]
    digits = prefix + [int(d) for d in rng.integers(0, 10, 15 - len(prefix))]
    total = 0
    for position, digit in enumerate(reversed(digits)):  # the check digit will sit at the right
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    separator = " " if rng.random() < 0.5 else "-"
    return separator.join(text[i : i + 4] for i in range(0, 16, 4))


def _weighted(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """n indices drawn with probabilities given by a cumulative weight array."""
    picks = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.minimum(picks, len(cdf) - 1)


def _seconds_of_day(rng: np.random.Generator, n: int, day_length: int) -> np.ndarray:
    """Times within a local day following the site's daily traffic curve."""
    hours = _weighted(rng, np.cumsum(HOURLY_TRAFFIC), n)
    seconds = hours * 3600 + rng.integers(0, 3600, n)
    return np.minimum(seconds, day_length - 1)


# --- catalogue ----------------------------------------------------------------------------------


def _leaves_in_order() -> list[tuple[int, str, str]]:
    """Every leaf as (top index, category path, noun), ordered so any prefix spans many branches."""
    mids = [
        (rank, top_index, top, mid, nouns)
        for top_index, (top, subs) in enumerate(TAXONOMY.items())
        for rank, (mid, nouns) in enumerate(subs.items())
    ]
    mids.sort(key=lambda m: (m[0], m[1]))  # first mid of every top, then the second ones, ...
    deepest = max(len(m[4]) for m in mids)
    return [
        (top_index, f"{top} > {mid} > {_plural(nouns[i])}", nouns[i].split("|")[0])
        for i in range(deepest)
        for _, top_index, top, mid, nouns in mids
        if i < len(nouns)
    ]


def _price_cents(prices: np.ndarray) -> np.ndarray:
    """Shop-like prices in cents (ending in .99, .90 or .00), at least 1.99."""
    endings = np.array([99, 90, 0])[np.arange(len(prices)) % 3]
    return np.maximum(np.floor(prices).astype(np.int64) * 100 + endings, 199)


class _Catalogue:
    """Products in a 3-level category tree, with Zipf-like popularity inside each leaf."""

    def __init__(self, rng: np.random.Generator, n_products: int, first_midnight: int):
        self.rng = rng
        leaves = _leaves_in_order()
        n_leaves = int(np.clip(round(n_products / PRODUCTS_PER_LEAF), 1, len(leaves)))
        leaves = leaves[:n_leaves]
        self.leaf_paths = [path for _, path, _ in leaves]
        self.leaf_nouns = [noun for _, _, noun in leaves]
        # Every leaf gets a product; the rest are spread unevenly, like real assortments.
        shares = rng.gamma(2.0, size=n_leaves)
        self.leaf_size = rng.multinomial(n_products - n_leaves, shares / shares.sum()) + 1
        self.leaf_start = np.concatenate([[0], np.cumsum(self.leaf_size)[:-1]])
        self.leaf_cdf = np.cumsum(self.leaf_size.astype(np.float64))
        # Slot leaf_start[l] + r holds the r-th most popular product of leaf l. Product numbers are
        # shuffled so that ids say nothing about category or popularity.
        self.by_popularity = rng.permutation(n_products)
        self.leaf = np.empty(n_products, np.int64)
        self.leaf[self.by_popularity] = np.repeat(np.arange(n_leaves), self.leaf_size)

        width = max(6, len(str(n_products)))
        self.ids = [f"P{i + 1:0{width}d}" for i in range(n_products)]
        self.urls = [f"{SITE}/p/{pid}" for pid in self.ids]
        top_of_leaf = np.array([top for top, _, _ in leaves])
        brand_pick = rng.integers(0, 5, n_products)
        no_brand = rng.random(n_products) < 0.06
        qualifier = rng.integers(0, len(QUALIFIERS), n_products)
        colour = rng.integers(-len(COLOURS) // 2, len(COLOURS), n_products)  # < 0: no colour
        self.brands, self.titles = [], []
        for p in range(n_products):
            brand = "" if no_brand[p] else BRANDS[top_of_leaf[self.leaf[p]]][brand_pick[p]]
            words = [self.leaf_nouns[self.leaf[p]], brand, QUALIFIERS[qualifier[p]]]
            if colour[p] >= 0:
                words.append(COLOURS[colour[p]])
            self.brands.append(brand)
            self.titles.append(" ".join(w for w in words if w))

        leaf_base_price = np.exp(rng.uniform(np.log(6), np.log(300), n_leaves))
        self.price = _price_cents(leaf_base_price[self.leaf] * rng.lognormal(0, 0.35, n_products))
        self.in_stock = rng.random(n_products) < 0.91
        self.updated = first_midnight - rng.integers(3600, 365 * 86400, n_products)

    def evolve(self, day_start: int) -> None:
        """One night of catalogue changes: some items sell out, some come back, a few reprices."""
        rng, n = self.rng, len(self.ids)
        # 0.3 % sell out and 3 % of the missing ones return each day: about 91 % stay in stock.
        flips = np.where(self.in_stock, rng.random(n) < 0.003, rng.random(n) < 0.03)
        self.in_stock ^= flips
        repriced = rng.random(n) < 0.002
        factors = rng.uniform(0.85, 1.1, int(repriced.sum()))
        self.price[repriced] = _price_cents(self.price[repriced] / 100 * factors)
        changed = flips | repriced
        self.updated[changed] = day_start + rng.integers(3600, 5 * 3600, int(changed.sum()))

    def random_leaves(self, n: int) -> np.ndarray:
        """Leaves drawn in proportion to their size."""
        return _weighted(self.rng, self.leaf_cdf, n)

    def popular_products(self, leaves: np.ndarray) -> np.ndarray:
        """One product per given leaf, drawn with Zipf-like (1/rank) popularity."""
        size = self.leaf_size[leaves]
        # Inverse CDF of a continuous 1/x law on [1, size + 1]: rank r has weight ~ 1/(r + 1.5).
        rank = np.floor((size + 1.0) ** self.rng.random(len(leaves))).astype(np.int64) - 1
        return self.by_popularity[self.leaf_start[leaves] + np.clip(rank, 0, size - 1)]

    def rows(self) -> list[list[str]]:
        """The catalogue snapshot as CSV rows."""
        return [
            [
                pid,
                self.titles[p],
                self.leaf_paths[self.leaf[p]],
                self.brands[p],
                f"{self.price[p] // 100}.{self.price[p] % 100:02d}",
                "EUR",
                "true" if self.in_stock[p] else "false",
                self.urls[p],
                _iso_z(int(self.updated[p])),
            ]
            for p, pid in enumerate(self.ids)
        ]


# --- people -------------------------------------------------------------------------------------


class _Identities:
    """Names, phones, addresses and e-mails from seeded Faker instances, one per locale.

    Names and addresses are drawn from pools Faker fills once per locale (a call per person made
    a 1M-customer zone spend minutes in Faker); phones and e-mails stay one per person."""

    POOL = 2048

    def __init__(self, seed: int):
        self.fakers = {locale: Faker(locale) for locale in LOCALES}
        for offset, faker in enumerate(self.fakers.values()):
            faker.seed_instance(seed + offset)
        self.emails: set[str] = set()
        self._pools: dict[tuple[str, str], list] = {}

    def _draw(self, locale: str, kind: str, make):
        pool = self._pools.get((locale, kind))
        if pool is None:
            pool = self._pools[(locale, kind)] = [make() for _ in range(self.POOL)]
        return pool[self.fakers[locale].random.randrange(self.POOL)]

    def first_name(self, locale: str, gender: str) -> str:
        """A first name matching the gender when there is one."""
        faker = self.fakers[locale]
        if gender == "F":
            return self._draw(locale, "F", faker.first_name_female)
        if gender == "M":
            return self._draw(locale, "M", faker.first_name_male)
        return self._draw(locale, "first", faker.first_name)

    def last_name(self, locale: str) -> str:
        """A family name."""
        return self._draw(locale, "last", self.fakers[locale].last_name)

    def phone(self, locale: str) -> str:
        """A phone number in the country's format, its last four digits the person's own."""
        faker = self.fakers["nl_BE" if locale == "fr_BE" else locale]
        number = list(self._draw(locale, "phone", faker.phone_number))
        own = f"{self.fakers[locale].random.randrange(10_000):04d}"
        digits = [i for i, char in enumerate(number) if char.isdigit()][-4:]
        for i, digit in zip(digits, own[4 - len(digits) :], strict=True):
            number[i] = digit
        return "".join(number)

    def address(self, locale: str) -> tuple[str, str, str]:
        """(street, postal code, city) in the country's style."""
        if locale == "fr_BE":
            postal_code, city = self.fakers["fr_BE"].random.choice(WALLOON_TOWNS)
            street = self._draw(locale, "street", self.fakers["fr_FR"].street_address)
            return street, postal_code, city
        faker = self.fakers[locale]
        return self._draw(
            locale, "address", lambda: (faker.street_address(), faker.postcode(), faker.city())
        )

    def email(self, locale: str, first: str, last: str, number: int) -> str:
        """A unique, plausible personal address built from the name."""
        draw = self.fakers[locale].random  # the seeded random.Random behind this Faker
        separator = draw.choice((".", "_", "", "."))
        local = _ascii_slug(first, "") + separator + _ascii_slug(last, "")
        if draw.random() < 0.5:
            local += str(draw.randint(1, 99))
        domain = draw.choice(EMAIL_DOMAINS[LOCALE_COUNTRY[locale]])
        address = f"{local}@{domain}"
        if address in self.emails:  # namesakes: the account number settles it
            address = f"{local}.{number}@{domain}"
        self.emails.add(address)
        return address


class _Population:
    """Customers (sorted by creation) and cookies, with what drives their behaviour."""

    def __init__(self, rng: np.random.Generator, users: int, dates: list[date], day_starts):
        first, n_days = day_starts[0], len(dates)
        self.n = users
        # New sign-ups during the window; day 1 holds everyone else (the initial CRM export).
        n_new = min(users // 2, round(users * SIGNUPS_PER_USER * (n_days - 1)))
        initial = first - rng.integers(60, 4 * 365 * 86400, users - n_new)
        new_day = rng.integers(1, n_days, n_new) if n_days > 1 else np.zeros(0, np.int64)
        lengths = np.array([day_starts[d + 1] - day_starts[d] for d in range(n_days)])
        new = np.array(day_starts[:n_days])[new_day] + _seconds_of_day(
            rng, n_new, int(lengths.min())
        )
        self.created = np.sort(np.concatenate([initial, new]))
        self.created_day = np.searchsorted(np.array(day_starts[1:n_days]), self.created, "right")
        self.created_day[self.created < first] = -1
        self.n_initial = users - n_new
        width = max(7, len(str(users)))
        self.ids = [f"C{i + 1:0{width}d}" for i in range(users)]

        self.locale = rng.choice(len(LOCALES), users, p=LOCALE_SHARES)
        self.gender = rng.choice(len(GENDERS), users, p=GENDER_SHARES)
        self.closed = (rng.random(users) < 0.02) & (self.created < first)
        self.birth = self._birth_dates(rng, dates)

        # A quarter of accounts are dormant: they never browse, and their last login is old.
        dormant = (rng.random(users) < 0.25) | self.closed
        span = np.maximum(first - self.created, 1)
        recent = first - np.minimum(rng.exponential(15 * 86400, users).astype(np.int64), span)
        old = self.created + (rng.random(users) * span).astype(np.int64)
        self.last_login = np.where(dormant, old, recent)
        self.last_login[dormant & (rng.random(users) < 0.3)] = -1  # never logged in since signup
        since = np.maximum(self.created, self.last_login)
        self.updated = since + (rng.random(users) * np.maximum(first - since, 1)).astype(np.int64)
        is_new = self.created >= first
        self.last_login[is_new] = self.created[is_new] + 5
        self.updated[is_new] = self.created[is_new] + 5

        # Cookies: 1-3 per customer, and about as many anonymous ones that never log in.
        per_customer = rng.choice([1, 2, 3], users, p=[0.5, 0.35, 0.15])
        owner = np.repeat(np.arange(users), per_customer)
        n_owned, n_anon = len(owner), users
        self.n_cookies = n_owned + n_anon
        self.cookie_owner = np.concatenate([owner, np.full(n_anon, -1)])
        # Interest profiles: a customer's cookies share one, an anonymous cookie has its own.
        self.cookie_profile = np.concatenate([owner, users + np.arange(n_anon)])
        first_cookie = np.ones(n_owned, bool)
        first_cookie[1:] = owner[1:] != owner[:-1]
        # Day a cookie is first seen (-1: before the window). Customers met their first cookie at
        # signup; a few later cookies (new devices) and anonymous visitors appear in the window.
        appears = rng.random(self.n_cookies) < min(0.5, 0.01 * (n_days - 1))
        self.cookie_first_day = np.where(appears, rng.integers(0, n_days, self.n_cookies), -1)
        owned_first_day = np.where(
            first_cookie, self.created_day[owner], self.cookie_first_day[:n_owned]
        )
        self.cookie_first_day[:n_owned] = np.maximum(owned_first_day, self.created_day[owner])
        activity = rng.lognormal(0, 1.0, users) * ~dormant
        self.cookie_weight = np.concatenate(
            [activity[owner] * rng.lognormal(0, 0.5, n_owned), 0.8 * rng.lognormal(0, 1.0, n_anon)]
        )
        ua_shares = np.array([share for _, _, share in USER_AGENTS])
        self.cookie_ua = rng.choice(len(USER_AGENTS), self.n_cookies, p=ua_shares / ua_shares.sum())
        self.ua_mobile = np.array([mobile for _, mobile, _ in USER_AGENTS])
        self.cookie_ids = _hex_ids(b"ck_", np.arange(self.n_cookies), int(rng.integers(1 << 60)))
        self.cookie_ips = self._ip_addresses(rng, self.n_cookies)

        self.n_profiles = users + n_anon
        self.n_favourites = rng.integers(1, 4, self.n_profiles)

    def _birth_dates(self, rng: np.random.Generator, dates: list[date]) -> list[str]:
        """Birth dates: ~8 % unknown, ~5 % minors, a few turning 18 in the window, adults 18-80."""
        first, end, n = dates[0], dates[-1], self.n
        kind = rng.choice(4, n, p=[0.08, 0.05, 0.004, 0.866])  # unknown, minor, turns 18, adult
        minor_low = _years_before(end, 18).toordinal() + 1
        minor_high = _years_before(end, 13).toordinal()
        adult_low = _years_before(end, 81).toordinal() + 1
        adult_high = _years_before(first, 18).toordinal() - 1
        adult_age = rng.beta(2.0, 3.2, n) * (adult_high - adult_low)
        ordinals = np.where(
            kind == 1,
            rng.integers(minor_low, minor_high + 1, n),
            adult_high - np.rint(adult_age).astype(np.int64),
        )
        eighteenth = rng.integers(0, len(dates), n)
        days_since_1970 = ordinals - date(1970, 1, 1).toordinal()
        births = np.datetime_as_string(days_since_1970.astype("datetime64[D]")).astype(object)
        births[kind == 0] = ""
        for i in np.flatnonzero(kind == 2).tolist():
            births[i] = _years_before(dates[eighteenth[i]], 18).isoformat()
        return births.tolist()

    @staticmethod
    def _ip_addresses(rng: np.random.Generator, n: int) -> pa.Array:
        """Quoted IP addresses: public-looking IPv4 mostly, IPv6 from French/Benelux ISPs."""
        octets = [IPV4_FIRST_OCTETS[rng.integers(0, len(IPV4_FIRST_OCTETS), n)]]
        octets += [rng.integers(0, 256, n), rng.integers(0, 256, n), rng.integers(1, 255, n)]
        v4 = pc.binary_join_element_wise(*[pc.cast(pa.array(o), pa.string()) for o in octets], ".")
        v4 = pc.binary_join_element_wise('"', v4, '"', "")
        prefixes = np.array([np.frombuffer(p.encode(), np.uint8) for p in IPV6_PREFIXES])
        groups = _HEX[rng.integers(0, 16, (n, 24))]
        parts: list[bytes | np.ndarray] = [b'"', prefixes[rng.integers(0, len(prefixes), n)]]
        for g in range(6):
            parts += [b":", groups[:, 4 * g : 4 * g + 4]]
        v6 = _strings(_matrix(n, *parts, b'"'))
        return pc.if_else(pa.array(rng.random(n) < IPV6_SHARE), v6, v4)


# --- defects ------------------------------------------------------------------------------------


class _Defects:
    """Decides how many bad rows of each kind go into each file, and keeps the tally."""

    def __init__(self, rate: float, rng: np.random.Generator):
        self.rate = rate
        self.rng = rng
        self.counts = dict.fromkeys(BAD_KINDS, 0)
        self._owed: dict[tuple[str, str], float] = {}
        self._given: dict[tuple[str, str], int] = {}
        self._rows: dict[str, int] = {}

    def quota(self, source: str, n_rows: int) -> dict[str, int]:
        """Bad rows per kind for the next file of `source`, which has n_rows good rows."""
        kinds = DEFECTS_BY_SOURCE.get(source, ())
        if self.rate <= 0 or n_rows == 0:
            return dict.fromkeys(kinds, 0)
        seen = self._rows.get(source, 0) + n_rows
        self._rows[source] = seen
        quota = {}
        for kind in kinds:
            # Fractions carry over to the next file, so small daily files still get their share.
            owed = self._owed.get((source, kind), 0.5) + n_rows * self.rate / len(kinds)
            count = int(owed)
            if count == 0 and seen >= 1000 and not self._given.get((source, kind)):
                count = 1  # every kind shows up once a source has 1000 rows
            self._owed[(source, kind)] = owed - count
            quota[kind] = count
        return quota

    def record(self, source: str, kind: str, count: int) -> None:
        """Count bad rows actually written."""
        self.counts[kind] += count
        self._given[(source, kind)] = self._given.get((source, kind), 0) + count

    def wants_bom(self, first_customers_file: bool) -> bool:
        """Whether a CSV file starts with a BOM: the first customers file, a quarter of others."""
        if self.rate <= 0:
            return False
        return first_customers_file or self.rng.random() < BOM_SHARE

    def positions(
        self, n: int, quota: dict[str, int], card_pool: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Distinct sorted row positions per kind; card numbers go only to `card_pool` rows."""
        rng = self.rng
        taken = np.zeros(n, bool)
        chosen = {}
        if quota.get("card_number"):
            pool = np.arange(n) if card_pool is None else card_pool
            wanted = min(quota["card_number"], len(pool))
            chosen["card_number"] = rng.choice(pool, wanted, replace=False)
            taken[chosen["card_number"]] = True
        others = [k for k in quota if k != "card_number"]
        free = np.flatnonzero(~taken)
        wanted = min(sum(quota[k] for k in others), len(free))
        picked = rng.choice(free, wanted, replace=False) if wanted else np.zeros(0, np.int64)
        start = 0
        for kind in others:
            chosen[kind] = picked[start : start + quota[kind]]
            start += quota[kind]
        return {kind: np.sort(rows) for kind, rows in chosen.items() if len(rows)}


@dataclass
class _JsonDefects:
    """Where the defects go in one JSON Lines file, and how to make them."""

    positions: dict[str, np.ndarray]
    time_field: str
    required_field: str
    carried: list[str]  # good lines of an earlier day's file, sent again in this one


def _broken_line(kind: str, line: str, spec: _JsonDefects, rng: np.random.Generator) -> str:
    """One line turned into the given kind of bad input."""
    if kind == "malformed_json":  # a truncated object, as left by an interrupted writer
        cut = int(rng.integers(len(line) // 4, len(line) * 3 // 4))
        return line[:cut] + "\n"
    row = json.loads(line)
    if kind == "missing_field":
        del row[spec.required_field]
    elif kind == "bad_timestamp":
        row[spec.time_field] = str(rng.choice(BAD_TIMESTAMPS))
    elif kind == "naive_timestamp":
        moment = datetime.fromisoformat(row[spec.time_field].replace("Z", "+00:00"))
        row[spec.time_field] = _iso_naive_local(int(moment.timestamp()))
    elif kind == "card_number":  # typed into the search box
        card = _card_number(rng)
        query = card.replace(" ", "") if " " in card else card
        row["page_url"] = f"{SITE}/search?q={query}"
    return _dumps(row)


def _damage_chunk(
    lines: pa.Array, base: int, spec: _JsonDefects, rng: np.random.Generator, first_chunk: bool
) -> pa.Array:
    """Apply the planned defects to the rows [base, base + len(lines)) of a file."""
    n = len(lines)
    replaced: dict[int, str] = {}
    for kind, rows in spec.positions.items():
        if kind == "duplicate_event":
            continue
        for row in rows[(rows >= base) & (rows < base + n)] - base:
            replaced[int(row)] = _broken_line(kind, lines[int(row)].as_py(), spec, rng)
    if replaced:
        mask = np.zeros(n, bool)
        order = sorted(replaced)
        mask[order] = True
        lines = pc.replace_with_mask(
            lines, pa.array(mask), pa.array([replaced[r] for r in order], pa.string())
        )
    duplicates = spec.positions.get("duplicate_event", np.zeros(0, np.int64))
    duplicates = duplicates[(duplicates >= base) & (duplicates < base + n)] - base
    carried = spec.carried if first_chunk else []
    if not len(duplicates) and not carried:
        return lines
    # A repeated line lands a little after its original, as when a collector retries a batch;
    # lines carried from an earlier day land anywhere.
    after = np.minimum(duplicates + 1 + rng.integers(0, 200, len(duplicates)), n)
    where = np.concatenate([after, rng.integers(0, n + 1, len(carried))])
    extra = pa.concat_arrays([lines.take(pa.array(duplicates)), pa.array(carried, pa.string())])
    order = np.insert(np.arange(n), where, np.arange(n, n + len(extra)))
    return pa.concat_arrays([lines, extra]).take(pa.array(order))


# --- the generator ------------------------------------------------------------------------------


@dataclass
class _Day:
    """One day of simulated browsing as numeric arrays (one entry per event), and its orders."""

    epoch: np.ndarray
    event_type: np.ndarray
    cookie: np.ndarray
    customer: np.ndarray  # -1: not logged in
    session: np.ndarray  # global session counter
    product: np.ndarray  # -1: none
    url: np.ndarray  # index into the URL dictionary
    referrer: np.ndarray  # index into the URL dictionary extended with external referrers
    with_offset: np.ndarray
    event_number: np.ndarray  # global event counter
    time_order: np.ndarray  # event indices sorted by time
    orders: list  # (ordered_at, customer, product lines, channel)


class _Generator:
    """Holds the simulation state and writes the landing zone day by day."""

    def __init__(self, out, days, users, products, seed, end_date, bad_rate):
        self.out = out
        self.users = users
        self.end_date = end_date
        self.dates = [end_date - timedelta(days=days - 1 - i) for i in range(days)]
        self.day_starts = [_local_midnight(d) for d in self.dates]
        self.day_starts.append(_local_midnight(end_date + timedelta(days=1)))
        # Independent streams, so that changing one source does not reshuffle the others.
        streams = np.random.default_rng(seed).spawn(8)
        (rng_catalogue, rng_people, rng_faker, self.rng_browse) = streams[:4]
        (self.rng_consent, self.rng_orders, self.rng_other, rng_defects) = streams[4:]
        self.catalogue = _Catalogue(rng_catalogue, products, self.day_starts[0])
        self.pop = _Population(rng_people, users, self.dates, self.day_starts)
        self.identities = _Identities(int(rng_faker.integers(1 << 31)))
        self.defects = _Defects(bad_rate, rng_defects)
        self.files = 0
        self.rows = dict.fromkeys(SOURCES, 0)
        self.event_counter = 0
        self.session_counter = 0
        self.order_counter = int(self.rng_orders.integers(10_000, 20_000))
        self.id_keys = [int(k) for k in self.rng_browse.integers(1 << 60, size=2)]
        self.carried_events: list[str] = []

        pop, cat = self.pop, self.catalogue
        self.favourites = cat.random_leaves(pop.n_profiles * 3).reshape(pop.n_profiles, 3)
        self.customer_json = pa.concat_arrays([_quoted(pop.ids), _quoted([None])])
        self.subject_json = pa.concat_arrays([_quoted(pop.ids), pop.cookie_ids])
        self.product_json = pa.concat_arrays([_quoted(cat.ids), _quoted([None])])
        self.ua_json = _quoted(ua for ua, _, _ in USER_AGENTS)
        self._build_urls()
        self.cust_consent = np.zeros((users, len(CUSTOMER_PURPOSES)), bool)
        self.banner_seen = np.zeros(pop.n_cookies, bool)  # the banner was shown
        self.banner_answered = np.zeros(pop.n_cookies, bool)  # and a choice was recorded
        self._identity_rows()

    def _build_urls(self) -> None:
        """The dictionary of page URLs: products, category pages, home page, searches, referrers."""
        cat = self.catalogue
        n_leaves = len(cat.leaf_paths)
        category_urls = [
            f"{SITE}/c/" + "/".join(_ascii_slug(level) for level in path.split(" > "))
            for path in cat.leaf_paths
        ]
        searches = []
        self.queries_per_leaf = 3
        for leaf, noun in enumerate(cat.leaf_nouns):
            top = cat.leaf_paths[leaf].split(" > ")[0]
            brand = BRANDS[list(TAXONOMY).index(top)][leaf % 5]
            for words in (noun, f"{noun} {COLOURS[leaf % len(COLOURS)]}", f"{brand} {noun}"):
                searches.append(f"{SITE}/search?q={quote_plus(words.lower())}")
        self.category_base = len(cat.ids)
        self.home_url = self.category_base + n_leaves
        self.search_base = self.home_url + 1
        self.external_base = self.search_base + len(searches)
        pages = cat.urls + category_urls + [f"{SITE}/"] + searches
        referrers = [ref for ref, _ in EXTERNAL_REFERRERS]
        self.url_json = _quoted(pages + referrers)
        shares = np.array([share for _, share in EXTERNAL_REFERRERS])
        self.referrer_cdf = np.cumsum(shares)

    def _identity_rows(self) -> None:
        """Faker identities for every customer."""
        pop, ident = self.pop, self.identities
        self.details = []
        for i in range(pop.n):
            locale = LOCALES[pop.locale[i]]
            first = ident.first_name(locale, GENDERS[pop.gender[i]])
            last = ident.last_name(locale)
            street, postal_code, city = ident.address(locale)
            email = ident.email(locale, first, last, i + 1)
            self.details.append(
                [email, first, last, ident.phone(locale), street, postal_code, city]
            )

    # --- driver ---------------------------------------------------------------------------------

    def run(self) -> GenerateSummary:
        """Write every day's files and summarise."""
        requests = self._requests()
        for d, day in enumerate(self.dates):
            start, end = self.day_starts[d], self.day_starts[d + 1]
            if d > 0:
                self.catalogue.evolve(start)
            if d % SNAPSHOT_EVERY_DAYS == 0 or d == len(self.dates) - 1:
                self._write_csv(
                    "products", day, "products.csv", PRODUCT_COLUMNS, self.catalogue.rows()
                )
            simulated = self._simulate_day(d, start, end)
            self._write_customers(d, day, start, end)
            self._write_consents(d, day, start, end, simulated)
            self._write_browsing(d, day, simulated)
            self._write_orders(day, simulated.orders)
            if requests.get(d):
                self._write_lines("requests", day, "requests.jsonl", requests[d])
            del simulated  # before the next day is simulated, not after: an L day is ~1 GB
        return GenerateSummary(
            out=self.out,
            first_date=self.dates[0],
            last_date=self.dates[-1],
            files=self.files,
            rows=dict(self.rows),
            bad_rows=dict(self.defects.counts),
        )

    # --- writing --------------------------------------------------------------------------------

    def _path(self, source: str, day: date, name: str) -> Path:
        folder = self.out / "landing" / source / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def _publish(self, temporary: Path, final: Path, source: str, rows: int) -> None:
        """Move a finished file into place, so a reader never sees half of it."""
        os.replace(temporary, final)
        self.files += 1
        self.rows[source] += rows

    def _write_csv(self, source: str, day: date, name: str, columns, rows: list[list]) -> None:
        """A CSV file with header; empty files are not written."""
        if not rows:
            return
        buffer = io.StringIO()
        if self.defects.wants_bom(source == "customers" and day == self.dates[0]):
            buffer.write("\ufeff")
            self.defects.record(source, "bom_files", 1)
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        path = self._path(source, day, name)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(buffer.getvalue().encode("utf-8"))
        self._publish(temporary, path, source, len(rows))

    def _write_lines(self, source: str, day: date, name: str, lines: list[str]) -> None:
        """A small JSON Lines file from ready lines."""
        path = self._path(source, day, name)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes("".join(lines).encode("utf-8"))
        self._publish(temporary, path, source, len(lines))

    def _write_json_chunks(self, source, day, name, n_rows, build, spec, rng) -> list[str]:
        """A JSON Lines file built chunk by chunk with its defects; returns a few good lines.

        The good lines (browsing only) are candidates for duplicates in the next day's file.
        """
        path = self._path(source, day, name)
        temporary = path.with_name(path.name + ".tmp")
        written, sample = 0, []
        with open(temporary, "wb") as raw:
            sink = (
                igzip.GzipFile(
                    filename="", fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0
                )
                if name.endswith(".gz")
                else raw
            )
            for base in range(0, n_rows, CHUNK_ROWS):
                clean = build(base, min(base + CHUNK_ROWS, n_rows))
                lines = _damage_chunk(clean, base, spec, rng, base == 0)
                sink.write(_text_of(lines))
                written += len(lines)
                if source == "browsing" and base + CHUNK_ROWS >= n_rows:
                    sample = self._good_sample(clean, base, spec)
            if sink is not raw:
                sink.close()
        self._publish(temporary, path, source, written)
        return sample

    def _good_sample(self, clean: pa.Array, base: int, spec: _JsonDefects) -> list[str]:
        """Up to 16 undamaged lines of a chunk, to be sent again in a later day's file."""
        damaged = set(np.concatenate([np.zeros(0, np.int64), *spec.positions.values()]).tolist())
        picks = self.rng_other.choice(len(clean), min(16, len(clean)), replace=False)
        return [clean[int(i)].as_py() for i in np.sort(picks) if base + int(i) not in damaged]

    # --- browsing -------------------------------------------------------------------------------

    def _simulate_day(self, d: int, start: int, end: int) -> _Day:
        """Sessions and their events for one day, vectorised over all events."""
        rng, pop, cat = self.rng_browse, self.pop, self.catalogue
        weights = pop.cookie_weight * (pop.cookie_first_day <= d)
        target = self.users * EVENTS_PER_USER * WEEKDAY_TRAFFIC[self.dates[d].weekday()]
        n_sessions = max(1, round(target / MEAN_SESSION_EVENTS))
        cookie = _weighted(rng, np.cumsum(weights), n_sessions)
        length = np.clip(np.rint(rng.lognormal(1.6, 0.8, n_sessions)), 1, 30).astype(np.int64)
        first = np.concatenate([[0], np.cumsum(length)[:-1]])
        n_events = int(length.sum())
        self.session_counter += n_sessions  # ids of today's sessions and events follow earlier ones
        self.event_counter += n_events
        session = np.repeat(np.arange(n_sessions), length)
        is_first = np.zeros(n_events, bool)
        is_first[first] = True

        # Times: a start following the daily curve, then gaps of seconds to minutes between events.
        gap = np.minimum(5 + rng.exponential(40, n_events), 1200).astype(np.int64)
        gap[is_first] = 0
        elapsed = np.cumsum(gap)
        elapsed -= elapsed[first][session]
        duration = elapsed[first + length - 1]
        session_start = np.maximum(
            np.minimum(_seconds_of_day(rng, n_sessions, end - start), end - start - 1 - duration), 0
        )
        epoch = start + session_start[session] + elapsed

        # Logged in ~60 % of the time on a customer's cookie, once the account exists and is open.
        owner = pop.cookie_owner[cookie]
        known = np.maximum(owner, 0)
        logged_in = (
            (owner >= 0)
            & ~pop.closed[known]
            & (pop.created[known] <= start + session_start)
            & (rng.random(n_sessions) < 0.6)
        )
        profile = pop.cookie_profile[cookie]
        favourite = self.favourites[
            profile, (rng.random(n_sessions) * pop.n_favourites[profile]).astype(np.int64)
        ]
        session_leaf = np.where(
            rng.random(n_sessions) < 0.85, favourite, cat.random_leaves(n_sessions)
        )

        # Event types: sessions open on a page or a search, then mostly view products.
        draw = rng.random(n_events)
        event_type = np.where(
            is_first,
            np.searchsorted([0.5, 0.7, 0.7, 1.0], draw, side="right"),
            np.searchsorted([0.27, 0.87, 0.955, 1.0], draw, side="right"),
        )
        # ~80 % of product events stay in the session's category; products follow popularity.
        leaf = np.where(
            rng.random(n_events) < 0.8, session_leaf[session], cat.random_leaves(n_events)
        )
        product = cat.popular_products(leaf)
        # An add to cart is for the product last viewed in the session, when there is one.
        last_view = np.maximum.accumulate(
            np.where(event_type == PRODUCT_VIEW, np.arange(n_events), -1)
        )
        from_view = (event_type == ADD_TO_CART) & (last_view >= first[session])
        product[from_view] = product[last_view[from_view]]
        has_product = (event_type == PRODUCT_VIEW) | (event_type == ADD_TO_CART)

        # Page views show the session's category page (or the home page), searches its queries.
        url = np.where(has_product, product, self.category_base + session_leaf[session])
        url = np.where(
            (event_type == PAGE_VIEW) & (rng.random(n_events) < 0.25), self.home_url, url
        )
        search_url = self.search_base + leaf * self.queries_per_leaf
        search_url += rng.integers(0, self.queries_per_leaf, n_events)
        url = np.where(event_type == SEARCH, search_url, url)
        # Inside a session the referrer is the previous page; the first event comes from outside.
        referrer = np.empty(n_events, np.int64)
        referrer[1:] = url[:-1]
        referrer[first] = self.external_base + _weighted(rng, self.referrer_cdf, n_sessions)

        return _Day(
            epoch=epoch,
            event_type=event_type,
            cookie=cookie[session],
            customer=np.where(logged_in, owner, -1)[session],
            session=self.session_counter - n_sessions + session,
            product=np.where(has_product, product, -1),
            url=url,
            referrer=referrer,
            with_offset=rng.random(n_events) < OFFSET_TIMESTAMP_SHARE,
            event_number=self.event_counter - n_events + np.arange(n_events),
            time_order=np.argsort(epoch, kind="stable"),
            orders=self._orders_from(
                d,
                (event_type, product, epoch, session),
                first,
                logged_in,
                owner,
                cookie,
                start,
                end,
            ),
        )

    def _write_browsing(self, d: int, day: date, sim: _Day) -> None:
        """The day's clickstream, in time order, as gzipped JSON Lines with its defects."""
        order = sim.time_order
        n = len(order)
        quota = self.defects.quota("browsing", n)
        carried_wanted = min(len(self.carried_events), quota.get("duplicate_event", 0) // 2)
        carried = self.carried_events[:carried_wanted]
        searches = np.flatnonzero(sim.event_type[order] == SEARCH)
        positions = self.defects.positions(n, quota, card_pool=searches)
        in_file = positions.get("duplicate_event", np.zeros(0, np.int64))
        positions["duplicate_event"] = in_file[: max(len(in_file) - carried_wanted, 0)]
        spec = _JsonDefects(positions, "event_time", "cookie_id", carried)
        for kind, rows in positions.items():
            self.defects.record("browsing", kind, len(rows))
        self.defects.record("browsing", "duplicate_event", len(carried))
        offsets = _day_offsets(sim.epoch, self.day_starts[d], self.day_starts[d + 1])
        customer = np.where(sim.customer < 0, self.pop.n, sim.customer)  # the last entry is null
        product = np.where(sim.product < 0, len(self.catalogue.ids), sim.product)

        def build(a: int, b: int) -> pa.Array:
            picked = order[a:b]
            return _json_lines(
                [
                    ("event_id", _hex_ids(b"e_", sim.event_number[picked], self.id_keys[0])),
                    (
                        "event_time",
                        _quoted_times(sim.epoch[picked], offsets[picked], sim.with_offset[picked]),
                    ),
                    ("event_type", _quoted(EVENT_TYPES).take(pa.array(sim.event_type[picked]))),
                    ("cookie_id", self.pop.cookie_ids.take(pa.array(sim.cookie[picked]))),
                    ("customer_id", self.customer_json.take(pa.array(customer[picked]))),
                    ("session_id", _hex_ids(b"s_", sim.session[picked], self.id_keys[1])),
                    ("product_id", self.product_json.take(pa.array(product[picked]))),
                    ("page_url", self.url_json.take(pa.array(sim.url[picked]))),
                    ("referrer", self.url_json.take(pa.array(sim.referrer[picked]))),
                    ("ip_address", self.pop.cookie_ips.take(pa.array(sim.cookie[picked]))),
                    (
                        "user_agent",
                        self.ua_json.take(pa.array(self.pop.cookie_ua[sim.cookie[picked]])),
                    ),
                ]
            )

        self.carried_events = self._write_json_chunks(
            "browsing", day, "events.jsonl.gz", n, build, spec, self.rng_browse
        )

    # --- orders ---------------------------------------------------------------------------------

    def _orders_from(self, d, events, first, logged_in, owner, cookie, start, end) -> list:
        """The day's orders: carts of logged-in sessions checked out a little later, store sales."""
        rng, pop, cat = self.rng_orders, self.pop, self.catalogue
        event_type, product, epoch, session = events
        factor = WEEKDAY_TRAFFIC[self.dates[d].weekday()]
        carts = np.flatnonzero(event_type == ADD_TO_CART)
        cart_session = session[carts]  # ascending: events are laid out session by session
        carts_per_session = np.bincount(cart_session, minlength=len(first))
        candidates = np.flatnonzero((carts_per_session > 0) & logged_in)
        wanted = rng.poisson(self.users * ORDERS_PER_USER * factor * (1 - STORE_ORDER_SHARE))
        # Sessions that filled the cart more are likelier to check out.
        weight = carts_per_session[candidates] / carts_per_session[candidates].sum()
        chosen = rng.choice(candidates, min(wanted, len(candidates)), replace=False, p=weight)
        chosen = np.sort(chosen)
        low = np.searchsorted(cart_session, chosen, "left")
        high = np.searchsorted(cart_session, chosen, "right")
        orders = []
        for s, a, b in zip(chosen.tolist(), low.tolist(), high.tolist(), strict=True):
            basket = dict.fromkeys(product[carts[a:b]].tolist())  # distinct, in order of adding
            lines = [p for p in basket if cat.in_stock[p]][:4]
            if not lines:
                continue
            at = min(int(epoch[carts[b - 1]]) + int(rng.integers(60, 900)), end - 1)
            mobile = pop.ua_mobile[pop.cookie_ua[cookie[s]]]
            channel = "app" if mobile and rng.random() < 0.5 else "web"
            orders.append((at, int(owner[s]), lines, channel))

        # Store sales by loyalty-card holders: no web session behind them.
        open_accounts = np.flatnonzero(~pop.closed & (pop.created < start))
        n_store = rng.poisson(self.users * ORDERS_PER_USER * factor * STORE_ORDER_SHARE)
        if len(open_accounts) and n_store:
            buyers = rng.choice(open_accounts, n_store)
            bought = cat.popular_products(cat.random_leaves(2 * n_store)).reshape(n_store, 2)
            n_lines = rng.integers(1, 3, n_store)
            opening = start + 9 * 3600 + rng.integers(0, 10 * 3600 + 1800, n_store)
            for k in range(n_store):
                basket = dict.fromkeys(bought[k, : n_lines[k]].tolist())
                lines = [p for p in basket if cat.in_stock[p]]
                if lines:
                    orders.append((int(opening[k]), int(buyers[k]), lines, "store"))
        return orders

    def _write_orders(self, day: date, orders: list) -> None:
        """One CSV row per order line, order ids in time order, with the day's defects."""
        rng, cat = self.rng_orders, self.catalogue
        age = (self.end_date - day).days
        if age <= 1:
            status_shares = (0.85, 0.1, 0.0, 0.05, 0.0)
        elif age <= 4:
            status_shares = (0.2, 0.6, 0.15, 0.05, 0.0)
        else:
            status_shares = (0.02, 0.1, 0.78, 0.04, 0.06)
        rows, moments = [], []
        for at, customer, lines, channel in sorted(orders, key=lambda o: o[0]):
            self.order_counter += 1
            order_id = f"O{self.order_counter:08d}"
            status = ORDER_STATUSES[rng.choice(len(ORDER_STATUSES), p=status_shares)]
            for line_no, p in enumerate(lines, 1):
                quantity = int(rng.choice([1, 2, 3], p=[0.8, 0.15, 0.05]))
                price = f"{cat.price[p] // 100}.{cat.price[p] % 100:02d}"
                customer_id = self.pop.ids[customer]
                rows.append(
                    [order_id, line_no, customer_id, _iso_z(at), cat.ids[p], quantity, price]
                    + ["EUR", channel, status]
                )
                moments.append(at)
        quota = self.defects.quota("orders", len(rows))
        for kind, positions in self.defects.positions(len(rows), quota).items():
            for i in positions.tolist():
                if kind == "missing_field":
                    rows[i][0] = ""
                elif kind == "bad_timestamp":
                    rows[i][3] = str(rng.choice(BAD_TIMESTAMPS))
                else:
                    rows[i][3] = _iso_naive_local(moments[i])
            self.defects.record("orders", kind, len(positions))
        self._write_csv("orders", day, "orders.csv", ORDER_COLUMNS, rows)

    # --- customers ------------------------------------------------------------------------------

    def _write_customers(self, d: int, day: date, start: int, end: int) -> None:
        """Day 1: every existing account; later days: sign-ups and a few changed accounts."""
        pop, rng = self.pop, self.rng_other
        if d == 0:
            members = np.arange(pop.n_initial)
        else:
            existing = int(np.searchsorted(pop.created, start))
            changed = rng.choice(
                existing, rng.binomial(existing, ACCOUNT_CHANGES_PER_USER), replace=False
            )
            for i in np.sort(changed).tolist():
                self._change_account(i, start, end)
            members = np.union1d(np.flatnonzero(pop.created_day == d), changed)
        created = _timestamps_z(pop.created[members])
        last_login = _timestamps_z(np.maximum(pop.last_login[members], 0))
        updated = _timestamps_z(pop.updated[members])
        rows = []
        for k, i in enumerate(members.tolist()):
            email, first, last, phone, street, postal_code, city = self.details[i]
            rows.append(
                [pop.ids[i], email, first, last, phone, street, postal_code, city]
                + [LOCALE_COUNTRY[LOCALES[pop.locale[i]]], pop.birth[i], GENDERS[pop.gender[i]]]
                + [created[k], last_login[k] if pop.last_login[i] >= 0 else "", updated[k]]
                + ["closed" if pop.closed[i] else "active"]
            )
        quota = self.defects.quota("customers", len(rows))
        for kind, positions in self.defects.positions(len(rows), quota).items():
            for i in positions.tolist():  # a card number typed into the street field
                rows[i][5] = f"{rows[i][5]}, CB {_card_number(rng)}"
            self.defects.record("customers", kind, len(positions))
        self._write_csv("customers", day, "customers.csv", CUSTOMER_COLUMNS, rows)

    def _change_account(self, i: int, start: int, end: int) -> None:
        """A customer edits the account: new address, phone or e-mail, or closes it."""
        pop, rng, ident = self.pop, self.rng_other, self.identities
        locale = LOCALES[pop.locale[i]]
        change = rng.choice(4, p=[0.5, 0.3, 0.12, 0.08])
        if change == 0:
            self.details[i][4:7] = ident.address(locale)
        elif change == 1:
            self.details[i][3] = ident.phone(locale)
        elif change == 2:
            self.details[i][0] = ident.email(locale, self.details[i][1], self.details[i][2], i + 1)
        else:
            pop.closed[i] = True
        pop.updated[i] = start + int(_seconds_of_day(rng, 1, end - start)[0])
        pop.last_login[i] = pop.updated[i] - int(rng.integers(30, 600))

    # --- consents -------------------------------------------------------------------------------

    def _write_consents(self, d: int, day: date, start: int, end: int, sim: _Day) -> None:
        """Consent events of the day (day 1 also holds the history of existing customers)."""
        pop = self.pop
        if d == 0:
            initial = np.arange(pop.n_initial)
            batches = [
                self._signup_consents(initial),
                self._past_consent_changes(initial, start),
                self._past_banners(start),
            ]
        else:
            batches = [
                self._signup_consents(np.flatnonzero(pop.created_day == d)),
                self._consent_changes(start, end),
                self._banner_changes(start, end),
            ]
        batches.append(self._first_visit_banners(sim, start))
        events = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
        order = np.argsort(events["at"], kind="stable")
        n = len(order)
        quota = self.defects.quota("consents", n)
        positions = self.defects.positions(n, quota)
        for kind, rows in positions.items():
            self.defects.record("consents", kind, len(rows))
        spec = _JsonDefects(positions, "recorded_at", "purpose", [])
        subject_types = _quoted(("customer", "cookie"))
        purposes, statuses, sources = (
            _quoted(PURPOSES),
            _quoted(("withdrawn", "granted")),
            _quoted(CONSENT_SOURCES),
        )

        def build(a: int, b: int) -> pa.Array:
            picked = order[a:b]
            subject = events["subject"][picked]
            at = events["at"][picked]
            return _json_lines(
                [
                    ("subject_type", subject_types.take(pa.array((subject >= pop.n).astype(int)))),
                    ("subject_id", self.subject_json.take(pa.array(subject))),
                    ("purpose", purposes.take(pa.array(events["purpose"][picked]))),
                    ("status", statuses.take(pa.array(events["granted"][picked].astype(int)))),
                    ("recorded_at", _quoted_times(at, np.zeros_like(at), np.zeros(len(at), bool))),
                    ("source", sources.take(pa.array(events["source"][picked]))),
                ]
            )

        if n:
            self._write_json_chunks(
                "consents", day, "consents.jsonl", n, build, spec, self.rng_consent
            )

    def _signup_consents(self, members: np.ndarray) -> dict[str, np.ndarray]:
        """At signup every purpose is answered; e-mail and partner consents follow earlier ones."""
        rng, n = self.rng_consent, len(members)
        personalisation = rng.random(n) < 0.75
        email = rng.random(n) < np.where(personalisation, 0.65, 0.25)
        offers = rng.random(n) < np.where(email, 0.45, 0.05)
        sharing = rng.random(n) < 0.15
        answers = np.stack([personalisation, email, offers, sharing], axis=1)
        self.cust_consent[members] = answers
        at = self.pop.created[members] + 5
        return _concat(
            _consents(members, _purpose_code(p), answers[:, j], at, "signup")
            for j, p in enumerate(CUSTOMER_PURPOSES)
        )

    def _flip_consents(self, who: np.ndarray, at: np.ndarray) -> dict[str, np.ndarray]:
        """Customers change one purpose each: granted ones withdraw, some others grant again."""
        rng = self.rng_consent
        purpose = rng.choice(len(CUSTOMER_PURPOSES), len(who), p=[0.25, 0.5, 0.15, 0.1])
        current = self.cust_consent[who, purpose]
        acting = current | (rng.random(len(who)) < 0.3)
        who, purpose, current, at = who[acting], purpose[acting], current[acting], at[acting]
        self.cust_consent[who, purpose] = ~current
        # Withdrawals come from the preference centre, the unsubscribe link of e-mails, or post.
        draw = rng.random(len(who))
        source = np.where(
            current & (purpose == 1) & (draw < 0.6),
            CONSENT_SOURCES.index("email"),
            np.where(
                current & (draw > 0.97),
                CONSENT_SOURCES.index("post"),
                CONSENT_SOURCES.index("preference_centre"),
            ),
        )
        codes = np.array([_purpose_code(p) for p in CUSTOMER_PURPOSES])[purpose]
        return _consents(who, codes, ~current, at, source)

    def _past_consent_changes(self, initial: np.ndarray, first: int) -> dict[str, np.ndarray]:
        """Changes made before the window by ~15 % of existing customers."""
        rng, created = self.rng_consent, self.pop.created
        who = initial[(rng.random(len(initial)) < 0.15) & (created[initial] < first - 3600)]
        span = first - 60 - (created[who] + 60)
        at = created[who] + 60 + (rng.random(len(who)) * span).astype(np.int64)
        return self._flip_consents(who, at)

    def _consent_changes(self, start: int, end: int) -> dict[str, np.ndarray]:
        """Withdrawals and a few re-grants during the day by existing customers."""
        rng = self.rng_consent
        existing = int(np.searchsorted(self.pop.created, start))
        who = rng.choice(existing, rng.binomial(existing, CONSENT_CHANGES_PER_USER), replace=False)
        at = start + _seconds_of_day(rng, len(who), end - start)
        return self._flip_consents(np.sort(who), at)

    def _banner_answers(self, cookies: np.ndarray, at: np.ndarray) -> dict[str, np.ndarray]:
        """Cookie banner choices: accept all, refuse all, personalisation only, or no answer."""
        choice = self.rng_consent.choice(4, len(cookies), p=[0.5, 0.3, 0.12, 0.08])
        answered = choice < 3
        cookies, at, choice = cookies[answered], at[answered], choice[answered]
        ad_profiling, personalisation = choice == 0, (choice == 0) | (choice == 2)
        self.banner_answered[cookies] = True
        subjects = self.pop.n + cookies
        return _concat(
            [
                _consents(
                    subjects, _purpose_code("ad_profiling"), ad_profiling, at, "cookie_banner"
                ),
                _consents(
                    subjects, _purpose_code("personalisation"), personalisation, at, "cookie_banner"
                ),
            ]
        )

    def _past_banners(self, first: int) -> dict[str, np.ndarray]:
        """Banner answers of cookies seen before the window, within the last two years."""
        rng, pop = self.rng_consent, self.pop
        cookies = np.flatnonzero(pop.cookie_first_day < 0)
        owner = pop.cookie_owner[cookies]
        earliest = np.full(len(cookies), first - 730 * 86400)
        owned = owner >= 0
        earliest[owned] = np.maximum(earliest[owned], pop.created[owner[owned]] - 30 * 86400)
        at = earliest + (rng.random(len(cookies)) * (first - earliest)).astype(np.int64)
        self.banner_seen[cookies] = True
        return self._banner_answers(cookies, at)

    def _first_visit_banners(self, sim: _Day, start: int) -> dict[str, np.ndarray]:
        """The banner shown to a new cookie just before its first event."""
        order = sim.time_order
        cookies, first_event = np.unique(sim.cookie[order], return_index=True)
        new = ~self.banner_seen[cookies]
        cookies = cookies[new]
        at = sim.epoch[order[first_event[new]]] - self.rng_consent.integers(1, 5, len(cookies))
        self.banner_seen[cookies] = True
        return self._banner_answers(cookies, np.maximum(at, start))

    def _banner_changes(self, start: int, end: int) -> dict[str, np.ndarray]:
        """A few visitors reopen the cookie settings and answer again."""
        rng = self.rng_consent
        answered = np.flatnonzero(self.banner_answered)
        cookies = np.sort(rng.choice(answered, rng.binomial(len(answered), 0.0005), replace=False))
        return self._banner_answers(
            cookies, start + _seconds_of_day(rng, len(cookies), end - start)
        )

    # --- requests -------------------------------------------------------------------------------

    def _requests(self) -> dict[int, list[str]]:
        """Data-subject requests over the window, as JSON lines grouped by day."""
        rng, pop = self.rng_other, self.pop
        n = round(self.users * REQUESTS_PER_USER)
        kinds = rng.choice(len(REQUEST_TYPES), n, p=REQUEST_SHARES)
        if self.users >= 200:  # at least one of each type
            kinds = np.concatenate([np.arange(len(REQUEST_TYPES)), kinds[len(REQUEST_TYPES) :]])
            n = len(kinds)
        day = rng.integers(0, len(self.dates), n)
        starts = np.array(self.day_starts)
        at = starts[day] + _seconds_of_day(rng, n, int((starts[1:] - starts[:-1]).min()))
        existing = np.searchsorted(pop.created, at)
        customer = (rng.random(n) * existing).astype(np.int64)
        objection_purpose = rng.choice(3, n, p=[0.4, 0.4, 0.2])
        by_day: dict[int, list[str]] = {}
        number = 0
        for i in np.argsort(at, kind="stable").tolist():
            if existing[i] == 0:
                continue
            number += 1
            kind = REQUEST_TYPES[kinds[i]]
            purpose = None
            if kind == "objection":
                purpose = ("personalisation", "email_marketing", None)[objection_purpose[i]]
            row = {
                "request_id": f"R{number:06d}",
                "customer_id": pop.ids[customer[i]],
                "type": kind,
                "purpose": purpose,
                "received_at": _iso_z(int(at[i])),
            }
            by_day.setdefault(int(day[i]), []).append(_dumps(row))
        return by_day


def _timestamps_z(epochs: np.ndarray) -> list[str]:
    """ISO-8601 UTC strings with Z for many instants at once."""
    return _strings(_matrix(len(epochs), _iso_matrix(epochs), b"Z")).to_pylist()


def _purpose_code(purpose: str) -> int:
    return PURPOSES.index(purpose)


def _consents(subjects, purpose, granted, at, source) -> dict[str, np.ndarray]:
    """A batch of consent events as arrays; scalars apply to the whole batch."""
    n = len(subjects)
    if isinstance(source, str):
        source = CONSENT_SOURCES.index(source)
    return {
        "subject": np.asarray(subjects, np.int64),
        "purpose": np.broadcast_to(np.asarray(purpose, np.int64), n),
        "granted": np.broadcast_to(np.asarray(granted, bool), n),
        "at": np.asarray(at, np.int64),
        "source": np.broadcast_to(np.asarray(source, np.int64), n),
    }


def _concat(batches: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    batches = list(batches)
    return {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
