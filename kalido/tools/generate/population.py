"""Customers and cookies: who exists when, who browses how much, on which device and address."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kalido.tools.generate.clock import Window, years_before
from kalido.tools.generate.identities import LOCALE_SHARES, LOCALES
from kalido.tools.generate.text import HEX_DIGITS, hex_ids, matrix, strings
from kalido.tools.generate.traffic import SIGNUPS_PER_USER, seconds_of_day

GENDERS = ("F", "M", "X", "")
GENDER_SHARES = (0.49, 0.45, 0.01, 0.05)
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
IPV4_FIRST_OCTETS = np.array(
    [2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92]
    + [93, 94, 109, 176, 178, 185, 188, 195, 212, 213, 217]
)
IPV6_PREFIXES = ("2a01:cb00", "2a01:e0a0", "2a02:8428", "2001:0861", "2a02:a03f", "2a02:a440")
IPV6_SHARE = 0.1


class Population:
    """Customers (sorted by creation) and cookies, with what drives their behaviour."""

    def __init__(self, rng: np.random.Generator, users: int, window: Window):
        dates, day_starts = window.dates, window.starts
        first, n_days = day_starts[0], len(dates)
        self.n = users
        # New sign-ups during the window; day 1 holds everyone else (the initial CRM export).
        n_new = min(users // 2, round(users * SIGNUPS_PER_USER * (n_days - 1)))
        initial = first - rng.integers(60, 4 * 365 * 86400, users - n_new)
        new_day = rng.integers(1, n_days, n_new) if n_days > 1 else np.zeros(0, np.int64)
        lengths = np.array([day_starts[d + 1] - day_starts[d] for d in range(n_days)])
        new = np.array(day_starts[:n_days])[new_day] + seconds_of_day(
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
        self.cookie_ids = hex_ids(b"ck_", np.arange(self.n_cookies), int(rng.integers(1 << 60)))
        self.cookie_ips = self._ip_addresses(rng, self.n_cookies)

        self.n_profiles = users + n_anon
        self.n_favourites = rng.integers(1, 4, self.n_profiles)

    def _birth_dates(self, rng: np.random.Generator, dates: list[date]) -> list[str]:
        """Birth dates: ~8 % unknown, ~5 % minors, a few turning 18 in the window, adults 18-80."""
        first, end, n = dates[0], dates[-1], self.n
        kind = rng.choice(4, n, p=[0.08, 0.05, 0.004, 0.866])  # unknown, minor, turns 18, adult
        minor_low = years_before(end, 18).toordinal() + 1
        minor_high = years_before(end, 13).toordinal()
        adult_low = years_before(end, 81).toordinal() + 1
        adult_high = years_before(first, 18).toordinal() - 1
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
            births[i] = years_before(dates[eighteenth[i]], 18).isoformat()
        return births.tolist()

    @staticmethod
    def _ip_addresses(rng: np.random.Generator, n: int) -> pa.Array:
        """Quoted IP addresses: public-looking IPv4 mostly, IPv6 from French/Benelux ISPs."""
        octets = [IPV4_FIRST_OCTETS[rng.integers(0, len(IPV4_FIRST_OCTETS), n)]]
        octets += [rng.integers(0, 256, n), rng.integers(0, 256, n), rng.integers(1, 255, n)]
        v4 = pc.binary_join_element_wise(*[pc.cast(pa.array(o), pa.string()) for o in octets], ".")
        v4 = pc.binary_join_element_wise('"', v4, '"', "")
        prefixes = np.array([np.frombuffer(p.encode(), np.uint8) for p in IPV6_PREFIXES])
        groups = HEX_DIGITS[rng.integers(0, 16, (n, 24))]
        parts: list[bytes | np.ndarray] = [b'"', prefixes[rng.integers(0, len(prefixes), n)]]
        for g in range(6):
            parts += [b":", groups[:, 4 * g : 4 * g + 4]]
        v6 = strings(matrix(n, *parts, b'"'))
        return pc.if_else(pa.array(rng.random(n) < IPV6_SHARE), v6, v4)
