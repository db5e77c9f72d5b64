"""The CRM export: every account on the first day, then sign-ups and changed accounts."""

from __future__ import annotations

import numpy as np

from kalido.contract import SOURCES as CONTRACT
from kalido.tools.generate.clock import Window
from kalido.tools.generate.defects import Defects, card_number
from kalido.tools.generate.identities import LOCALE_COUNTRY, LOCALES, Identities
from kalido.tools.generate.population import GENDERS, Population
from kalido.tools.generate.text import timestamps_z
from kalido.tools.generate.traffic import ACCOUNT_CHANGES_PER_USER, seconds_of_day
from kalido.tools.generate.writing import LandingWriter

# The generator writes exactly the columns the ingest reads.
CUSTOMER_COLUMNS = CONTRACT["customers"].columns


class Customers:
    """The personal details of every customer, as they change, and the daily CSV export."""

    def __init__(
        self,
        rng: np.random.Generator,
        window: Window,
        pop: Population,
        identities: Identities,
        defects: Defects,
        writer: LandingWriter,
    ):
        self.rng, self.window, self.pop, self.identities = rng, window, pop, identities
        self.defects, self.writer = defects, writer
        self.details = []  # per customer: email, first, last, phone, street, postal code, city
        for i in range(pop.n):
            locale = LOCALES[pop.locale[i]]
            first = identities.first_name(locale, GENDERS[pop.gender[i]])
            last = identities.last_name(locale)
            street, postal_code, city = identities.address(locale)
            email = identities.email(locale, first, last, i + 1)
            self.details.append(
                [email, first, last, identities.phone(locale), street, postal_code, city]
            )

    def write_day(self, d: int) -> None:
        """Day 1: every existing account; later days: sign-ups and a few changed accounts."""
        pop, rng = self.pop, self.rng
        start, end = self.window.bounds(d)
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
        created = timestamps_z(pop.created[members])
        last_login = timestamps_z(np.maximum(pop.last_login[members], 0))
        updated = timestamps_z(pop.updated[members])
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
                rows[i][5] = f"{rows[i][5]}, CB {card_number(rng)}"
            self.defects.record("customers", kind, len(positions))
        self.writer.write_csv(
            "customers", self.window.dates[d], "customers.csv", CUSTOMER_COLUMNS, rows
        )

    def _change_account(self, i: int, start: int, end: int) -> None:
        """A customer edits the account: new address, phone or e-mail, or closes it."""
        pop, rng, ident = self.pop, self.rng, self.identities
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
        pop.updated[i] = start + int(seconds_of_day(rng, 1, end - start)[0])
        pop.last_login[i] = pop.updated[i] - int(rng.integers(30, 600))
