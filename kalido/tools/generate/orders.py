"""Orders: carts of logged-in sessions checked out, store sales, one CSV row per order line."""

from __future__ import annotations

import numpy as np

from kalido.contract import SOURCES as CONTRACT
from kalido.tools.generate.browsing import ADD_TO_CART, BrowsingDay
from kalido.tools.generate.catalogue import Catalogue
from kalido.tools.generate.clock import Window, iso_naive_local, iso_z
from kalido.tools.generate.defects import BAD_TIMESTAMPS, Defects
from kalido.tools.generate.population import Population
from kalido.tools.generate.traffic import ORDERS_PER_USER, STORE_ORDER_SHARE, WEEKDAY_TRAFFIC
from kalido.tools.generate.writing import LandingWriter

# The generator writes exactly the columns the ingest reads.
ORDER_COLUMNS = CONTRACT["orders"].columns
ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")


class Orders:
    """Turns each day's carts into orders and writes them; order ids run on across days."""

    def __init__(
        self,
        rng: np.random.Generator,
        window: Window,
        catalogue: Catalogue,
        pop: Population,
        defects: Defects,
        writer: LandingWriter,
    ):
        self.rng, self.window = rng, window
        self.catalogue, self.pop = catalogue, pop
        self.defects, self.writer = defects, writer
        self.counter = int(rng.integers(10_000, 20_000))

    def of_day(self, d: int, sim: BrowsingDay) -> list:
        """The day's orders: carts of logged-in sessions checked out a little later, store sales.

        Each is (ordered_at, customer, product lines, channel).
        """
        rng, pop, cat = self.rng, self.pop, self.catalogue
        start, end = self.window.bounds(d)
        event_type, product, epoch, session = sim.event_type, sim.product, sim.epoch, sim.session
        first = sim.session_first_event
        # A session is logged in when its events carry a customer, who is the cookie's owner.
        owner, cookie = sim.customer[first], sim.cookie[first]
        logged_in = owner >= 0
        factor = WEEKDAY_TRAFFIC[self.window.dates[d].weekday()]
        carts = np.flatnonzero(event_type == ADD_TO_CART)
        cart_session = session[carts]  # ascending: events are laid out session by session
        carts_per_session = np.bincount(cart_session, minlength=len(first))
        candidates = np.flatnonzero((carts_per_session > 0) & logged_in)
        wanted = rng.poisson(pop.n * ORDERS_PER_USER * factor * (1 - STORE_ORDER_SHARE))
        # Sessions that filled the cart more are likelier to check out.
        if len(candidates):
            weight = carts_per_session[candidates] / carts_per_session[candidates].sum()
            chosen = rng.choice(candidates, min(wanted, len(candidates)), replace=False, p=weight)
        else:  # a tiny zone's day without a logged-in cart: no web orders (numpy refuses p=[])
            chosen = candidates
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
        n_store = rng.poisson(pop.n * ORDERS_PER_USER * factor * STORE_ORDER_SHARE)
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

    def write_day(self, d: int, orders: list) -> None:
        """One CSV row per order line, order ids in time order, with the day's defects."""
        rng, cat = self.rng, self.catalogue
        day = self.window.dates[d]
        age = (self.window.dates[-1] - day).days
        if age <= 1:
            status_shares = (0.85, 0.1, 0.0, 0.05, 0.0)
        elif age <= 4:
            status_shares = (0.2, 0.6, 0.15, 0.05, 0.0)
        else:
            status_shares = (0.02, 0.1, 0.78, 0.04, 0.06)
        rows, moments = [], []
        for at, customer, lines, channel in sorted(orders, key=lambda o: o[0]):
            self.counter += 1
            order_id = f"O{self.counter:08d}"
            status = ORDER_STATUSES[rng.choice(len(ORDER_STATUSES), p=status_shares)]
            for line_no, p in enumerate(lines, 1):
                quantity = int(rng.choice([1, 2, 3], p=[0.8, 0.15, 0.05]))
                price = f"{cat.price[p] // 100}.{cat.price[p] % 100:02d}"
                customer_id = self.pop.ids[customer]
                rows.append(
                    [order_id, line_no, customer_id, iso_z(at), cat.ids[p], quantity, price]
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
                    rows[i][3] = iso_naive_local(moments[i])
            self.defects.record("orders", kind, len(positions))
        self.writer.write_csv("orders", day, "orders.csv", ORDER_COLUMNS, rows)
