"""Consent events: answers at signup and on the cookie banner, later withdrawals and re-grants."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from kalido.contract import SOURCES as CONTRACT
from kalido.tools.generate.browsing import BrowsingDay
from kalido.tools.generate.clock import Window
from kalido.tools.generate.defects import Defects, JsonDefects
from kalido.tools.generate.population import Population
from kalido.tools.generate.text import json_lines, quoted, quoted_times
from kalido.tools.generate.traffic import CONSENT_CHANGES_PER_USER, seconds_of_day
from kalido.tools.generate.writing import LandingWriter

CUSTOMER_PURPOSES = ("personalisation", "email_marketing", "partner_offers", "partner_sharing")
PURPOSES = CONTRACT["consents"].values("purpose")
CONSENT_SOURCES = ("signup", "preference_centre", "cookie_banner", "email", "post")


class Consents:
    """The current answer of every customer and cookie, and the day's consent events."""

    def __init__(
        self,
        rng: np.random.Generator,
        window: Window,
        pop: Population,
        defects: Defects,
        writer: LandingWriter,
    ):
        self.rng, self.window, self.pop = rng, window, pop
        self.defects, self.writer = defects, writer
        self.subject_json = pa.concat_arrays([quoted(pop.ids), pop.cookie_ids])
        self.cust_consent = np.zeros((pop.n, len(CUSTOMER_PURPOSES)), bool)
        self.banner_seen = np.zeros(pop.n_cookies, bool)  # the banner was shown
        self.banner_answered = np.zeros(pop.n_cookies, bool)  # and a choice was recorded

    def write_day(self, d: int, sim: BrowsingDay) -> None:
        """Consent events of the day (day 1 also holds the history of existing customers)."""
        pop = self.pop
        start, end = self.window.bounds(d)
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
        events = _concat(batches)
        order = np.argsort(events["at"], kind="stable")
        n = len(order)
        quota = self.defects.quota("consents", n)
        positions = self.defects.positions(n, quota)
        for kind, rows in positions.items():
            self.defects.record("consents", kind, len(rows))
        spec = JsonDefects(positions, "recorded_at", "purpose", [])
        subject_types = quoted(("customer", "cookie"))
        purposes, statuses, sources = (
            quoted(PURPOSES),
            quoted(("withdrawn", "granted")),
            quoted(CONSENT_SOURCES),
        )

        def build(a: int, b: int) -> pa.Array:
            picked = order[a:b]
            subject = events["subject"][picked]
            at = events["at"][picked]
            return json_lines(
                [
                    ("subject_type", subject_types.take(pa.array((subject >= pop.n).astype(int)))),
                    ("subject_id", self.subject_json.take(pa.array(subject))),
                    ("purpose", purposes.take(pa.array(events["purpose"][picked]))),
                    ("status", statuses.take(pa.array(events["granted"][picked].astype(int)))),
                    ("recorded_at", quoted_times(at, np.zeros_like(at), np.zeros(len(at), bool))),
                    ("source", sources.take(pa.array(events["source"][picked]))),
                ]
            )

        if n:
            self.writer.write_json_chunks(
                "consents", self.window.dates[d], "consents.jsonl", n, build, spec, self.rng
            )

    def _signup_consents(self, members: np.ndarray) -> dict[str, np.ndarray]:
        """At signup every purpose is answered; e-mail and partner consents follow earlier ones."""
        rng, n = self.rng, len(members)
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
        rng = self.rng
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
        rng, created = self.rng, self.pop.created
        who = initial[(rng.random(len(initial)) < 0.15) & (created[initial] < first - 3600)]
        span = first - 60 - (created[who] + 60)
        at = created[who] + 60 + (rng.random(len(who)) * span).astype(np.int64)
        return self._flip_consents(who, at)

    def _consent_changes(self, start: int, end: int) -> dict[str, np.ndarray]:
        """Withdrawals and a few re-grants during the day by existing customers."""
        rng = self.rng
        existing = int(np.searchsorted(self.pop.created, start))
        who = rng.choice(existing, rng.binomial(existing, CONSENT_CHANGES_PER_USER), replace=False)
        at = start + seconds_of_day(rng, len(who), end - start)
        return self._flip_consents(np.sort(who), at)

    def _banner_answers(self, cookies: np.ndarray, at: np.ndarray) -> dict[str, np.ndarray]:
        """Cookie banner choices: accept all, refuse all, personalisation only, or no answer."""
        choice = self.rng.choice(4, len(cookies), p=[0.5, 0.3, 0.12, 0.08])
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
        rng, pop = self.rng, self.pop
        cookies = np.flatnonzero(pop.cookie_first_day < 0)
        owner = pop.cookie_owner[cookies]
        earliest = np.full(len(cookies), first - 730 * 86400)
        owned = owner >= 0
        earliest[owned] = np.maximum(earliest[owned], pop.created[owner[owned]] - 30 * 86400)
        at = earliest + (rng.random(len(cookies)) * (first - earliest)).astype(np.int64)
        self.banner_seen[cookies] = True
        return self._banner_answers(cookies, at)

    def _first_visit_banners(self, sim: BrowsingDay, start: int) -> dict[str, np.ndarray]:
        """The banner shown to a new cookie just before its first event."""
        order = sim.time_order
        cookies, first_event = np.unique(sim.cookie[order], return_index=True)
        new = ~self.banner_seen[cookies]
        cookies = cookies[new]
        at = sim.epoch[order[first_event[new]]] - self.rng.integers(1, 5, len(cookies))
        self.banner_seen[cookies] = True
        return self._banner_answers(cookies, np.maximum(at, start))

    def _banner_changes(self, start: int, end: int) -> dict[str, np.ndarray]:
        """A few visitors reopen the cookie settings and answer again."""
        rng = self.rng
        answered = np.flatnonzero(self.banner_answered)
        cookies = np.sort(rng.choice(answered, rng.binomial(len(answered), 0.0005), replace=False))
        return self._banner_answers(cookies, start + seconds_of_day(rng, len(cookies), end - start))


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
