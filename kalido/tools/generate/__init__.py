"""Synthetic landing zone in the data contract's format: reproducible, fast, with realistic defects.

Every source is written under OUT/landing/<source>/dt=YYYY-MM-DD/ for `days` consecutive days
ending at `end_date`. All randomness flows from one seed and nothing reads the clock, so the same
arguments always give the same bytes. Browsing, the big source, is simulated with numpy arrays and
turned into JSON text with pyarrow in chunks; only customer identities go through Faker.

One module per concern: catalogue, population and identities (who exists), browsing, orders,
customers, consents, subject_requests, defects (bad input), writing (files on disk), and landing,
which wires them to independent random streams and runs the days.
"""

from kalido.tools.generate.landing import DEFAULT_END_DATE, GenerateSummary, generate_landing

__all__ = ["DEFAULT_END_DATE", "GenerateSummary", "generate_landing"]
