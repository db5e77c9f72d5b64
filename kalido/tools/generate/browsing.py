"""The clickstream: sessions of cookies through the site, simulated as arrays, one file per day."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote_plus

import numpy as np
import pyarrow as pa

from kalido.contract import SOURCES as CONTRACT
from kalido.tools.generate.catalogue import BRANDS, COLOURS, SITE, TAXONOMY, Catalogue
from kalido.tools.generate.clock import Window, day_offsets
from kalido.tools.generate.defects import Defects, JsonDefects
from kalido.tools.generate.population import USER_AGENTS, Population
from kalido.tools.generate.text import ascii_slug, hex_ids, json_lines, quoted, quoted_times
from kalido.tools.generate.traffic import (
    EVENTS_PER_USER,
    MEAN_SESSION_EVENTS,
    WEEKDAY_TRAFFIC,
    seconds_of_day,
    weighted,
)
from kalido.tools.generate.writing import LandingWriter

EXTERNAL_REFERRERS = (  # (referrer of a session's first event, share); None = typed or bookmark
    (None, 0.45),
    ("https://www.google.fr/", 0.25),
    ("https://www.google.com/", 0.07),
    ("https://www.bing.com/", 0.03),
    ("https://www.facebook.com/", 0.06),
    ("https://www.instagram.com/", 0.06),
    ("https://email.kalido.fr/newsletter", 0.08),
)
OFFSET_TIMESTAMP_SHARE = 0.1  # browsing times written with the local offset instead of Z
EVENT_TYPES = CONTRACT["browsing"].values("event_type")
# The simulation codes events by their index in the contract's list.
PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, SEARCH = (
    EVENT_TYPES.index(t) for t in ("page_view", "product_view", "add_to_cart", "search")
)
QUERIES_PER_LEAF = 3


@dataclass
class BrowsingDay:
    """One day of simulated browsing as numeric arrays, one entry per event unless noted."""

    epoch: np.ndarray
    event_type: np.ndarray
    cookie: np.ndarray
    customer: np.ndarray  # -1: not logged in
    session: np.ndarray  # the day's sessions, numbered from 0
    first_session: int  # global number of session 0, as sessions are numbered across days
    session_first_event: np.ndarray  # one entry per session
    product: np.ndarray  # -1: none
    url: np.ndarray  # index into the URL dictionary
    referrer: np.ndarray  # index into the URL dictionary extended with external referrers
    with_offset: np.ndarray
    event_number: np.ndarray  # global event counter
    time_order: np.ndarray  # event indices sorted by time


class Pages:
    """The dictionary of page URLs: products, category pages, home page, searches, referrers."""

    def __init__(self, cat: Catalogue):
        n_leaves = len(cat.leaf_paths)
        category_urls = [
            f"{SITE}/c/" + "/".join(ascii_slug(level) for level in path.split(" > "))
            for path in cat.leaf_paths
        ]
        searches = []
        for leaf, noun in enumerate(cat.leaf_nouns):
            top = cat.leaf_paths[leaf].split(" > ")[0]
            brand = BRANDS[list(TAXONOMY).index(top)][leaf % 5]
            for words in (noun, f"{noun} {COLOURS[leaf % len(COLOURS)]}", f"{brand} {noun}"):
                searches.append(f"{SITE}/search?q={quote_plus(words.lower())}")
        self.category_base = len(cat.ids)
        self.home = self.category_base + n_leaves
        self.search_base = self.home + 1
        self.external_base = self.search_base + len(searches)
        pages = cat.urls + category_urls + [f"{SITE}/"] + searches
        referrers = [ref for ref, _ in EXTERNAL_REFERRERS]
        self.json = quoted(pages + referrers)
        shares = np.array([share for _, share in EXTERNAL_REFERRERS])
        self.referrer_cdf = np.cumsum(shares)


class Browsing:
    """Simulates each day's sessions and writes them; keeps the counters that run across days."""

    def __init__(
        self,
        rng: np.random.Generator,
        sample_rng: np.random.Generator,
        window: Window,
        catalogue: Catalogue,
        pop: Population,
        defects: Defects,
        writer: LandingWriter,
    ):
        self.rng, self.sample_rng = rng, sample_rng
        self.window = window
        self.catalogue, self.pop = catalogue, pop
        self.defects, self.writer = defects, writer
        self.event_counter = 0
        self.session_counter = 0
        self.id_keys = [int(k) for k in rng.integers(1 << 60, size=2)]
        self.carried_events: list[str] = []
        self.favourites = catalogue.random_leaves(pop.n_profiles * 3).reshape(pop.n_profiles, 3)
        self.customer_json = pa.concat_arrays([quoted(pop.ids), quoted([None])])
        self.product_json = pa.concat_arrays([quoted(catalogue.ids), quoted([None])])
        self.ua_json = quoted(ua for ua, _, _ in USER_AGENTS)
        self.pages = Pages(catalogue)

    def simulate_day(self, d: int) -> BrowsingDay:
        """Sessions and their events for one day, vectorised over all events."""
        rng, pop, cat = self.rng, self.pop, self.catalogue
        start, end = self.window.bounds(d)
        weights = pop.cookie_weight * (pop.cookie_first_day <= d)
        target = pop.n * EVENTS_PER_USER * WEEKDAY_TRAFFIC[self.window.dates[d].weekday()]
        n_sessions = max(1, round(target / MEAN_SESSION_EVENTS))
        cookie = weighted(rng, np.cumsum(weights), n_sessions)
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
            np.minimum(seconds_of_day(rng, n_sessions, end - start), end - start - 1 - duration), 0
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
        pages = self.pages
        url = np.where(has_product, product, pages.category_base + session_leaf[session])
        url = np.where((event_type == PAGE_VIEW) & (rng.random(n_events) < 0.25), pages.home, url)
        search_url = pages.search_base + leaf * QUERIES_PER_LEAF
        search_url += rng.integers(0, QUERIES_PER_LEAF, n_events)
        url = np.where(event_type == SEARCH, search_url, url)
        # Inside a session the referrer is the previous page; the first event comes from outside.
        referrer = np.empty(n_events, np.int64)
        referrer[1:] = url[:-1]
        referrer[first] = pages.external_base + weighted(rng, pages.referrer_cdf, n_sessions)

        return BrowsingDay(
            epoch=epoch,
            event_type=event_type,
            cookie=cookie[session],
            customer=np.where(logged_in, owner, -1)[session],
            session=session,
            first_session=self.session_counter - n_sessions,
            session_first_event=first,
            product=np.where(has_product, product, -1),
            url=url,
            referrer=referrer,
            with_offset=rng.random(n_events) < OFFSET_TIMESTAMP_SHARE,
            event_number=self.event_counter - n_events + np.arange(n_events),
            time_order=np.argsort(epoch, kind="stable"),
        )

    def write_day(self, d: int, sim: BrowsingDay) -> None:
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
        spec = JsonDefects(positions, "event_time", "cookie_id", carried)
        for kind, rows in positions.items():
            self.defects.record("browsing", kind, len(rows))
        self.defects.record("browsing", "duplicate_event", len(carried))
        offsets = day_offsets(sim.epoch, *self.window.bounds(d))
        customer = np.where(sim.customer < 0, self.pop.n, sim.customer)  # the last entry is null
        product = np.where(sim.product < 0, len(self.catalogue.ids), sim.product)

        def build(a: int, b: int) -> pa.Array:
            picked = order[a:b]
            return json_lines(
                [
                    ("event_id", hex_ids(b"e_", sim.event_number[picked], self.id_keys[0])),
                    (
                        "event_time",
                        quoted_times(sim.epoch[picked], offsets[picked], sim.with_offset[picked]),
                    ),
                    ("event_type", quoted(EVENT_TYPES).take(pa.array(sim.event_type[picked]))),
                    ("cookie_id", self.pop.cookie_ids.take(pa.array(sim.cookie[picked]))),
                    ("customer_id", self.customer_json.take(pa.array(customer[picked]))),
                    (
                        "session_id",
                        hex_ids(b"s_", sim.first_session + sim.session[picked], self.id_keys[1]),
                    ),
                    ("product_id", self.product_json.take(pa.array(product[picked]))),
                    ("page_url", self.pages.json.take(pa.array(sim.url[picked]))),
                    ("referrer", self.pages.json.take(pa.array(sim.referrer[picked]))),
                    ("ip_address", self.pop.cookie_ips.take(pa.array(sim.cookie[picked]))),
                    (
                        "user_agent",
                        self.ua_json.take(pa.array(self.pop.cookie_ua[sim.cookie[picked]])),
                    ),
                ]
            )

        self.carried_events = self.writer.write_json_chunks(
            "browsing",
            self.window.dates[d],
            "events.jsonl.gz",
            n,
            build,
            spec,
            self.rng,
            sample_rng=self.sample_rng,
        )
