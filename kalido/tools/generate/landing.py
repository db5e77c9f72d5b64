"""The driver: one seed split into independent streams, then the landing zone written day by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from kalido.tools.generate.browsing import Browsing
from kalido.tools.generate.catalogue import PRODUCT_COLUMNS, Catalogue
from kalido.tools.generate.clock import Window
from kalido.tools.generate.consents import Consents
from kalido.tools.generate.customers import Customers
from kalido.tools.generate.defects import Defects
from kalido.tools.generate.identities import Identities
from kalido.tools.generate.orders import Orders
from kalido.tools.generate.population import Population
from kalido.tools.generate.subject_requests import requests_by_day
from kalido.tools.generate.traffic import SNAPSHOT_EVERY_DAYS
from kalido.tools.generate.writing import LandingWriter

DEFAULT_END_DATE = date(2026, 11, 24)


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


class _Generator:
    """Wires the sources to their random streams and writes the landing zone day by day."""

    def __init__(self, out, days, users, products, seed, end_date, bad_rate):
        window = self.window = Window.ending(end_date, days)
        # Independent streams, so that changing one source does not reshuffle the others.
        streams = np.random.default_rng(seed).spawn(8)
        (rng_catalogue, rng_people, rng_faker, rng_browse) = streams[:4]
        (rng_consent, rng_orders, self.rng_other, rng_defects) = streams[4:]
        catalogue = self.catalogue = Catalogue(rng_catalogue, products, window.starts[0])
        pop = self.pop = Population(rng_people, users, window)
        identities = Identities(int(rng_faker.integers(1 << 31)))
        defects = self.defects = Defects(bad_rate, rng_defects)
        writer = self.writer = LandingWriter(out, window.dates[0], defects)
        self.orders = Orders(rng_orders, window, catalogue, pop, defects, writer)
        self.browsing = Browsing(
            rng_browse, self.rng_other, window, catalogue, pop, defects, writer
        )
        self.consents = Consents(rng_consent, window, pop, defects, writer)
        self.customers = Customers(self.rng_other, window, pop, identities, defects, writer)

    def run(self) -> GenerateSummary:
        """Write every day's files and summarise."""
        dates, writer = self.window.dates, self.writer
        # Some streams serve several sources (the catalogue's, the defects', rng_other), so the
        # order of the calls below is part of the output: keep it to keep the bytes.
        requests = requests_by_day(self.rng_other, self.window, self.pop)
        for d, day in enumerate(dates):
            if d > 0:
                self.catalogue.evolve(self.window.starts[d])
            if d % SNAPSHOT_EVERY_DAYS == 0 or d == len(dates) - 1:
                writer.write_csv(
                    "products", day, "products.csv", PRODUCT_COLUMNS, self.catalogue.rows()
                )
            simulated = self.browsing.simulate_day(d)
            orders = self.orders.of_day(d, simulated)
            self.customers.write_day(d)
            self.consents.write_day(d, simulated)
            self.browsing.write_day(d, simulated)
            self.orders.write_day(d, orders)
            if requests.get(d):
                writer.write_lines("requests", day, "requests.jsonl", requests[d])
            del simulated  # before the next day is simulated, not after: an L day is ~1 GB
        return GenerateSummary(
            out=writer.out,
            first_date=dates[0],
            last_date=dates[-1],
            files=writer.files,
            rows=dict(writer.rows),
            bad_rows=dict(self.defects.counts),
        )
