"""How much happens and when: volumes per customer and day, weekly and daily traffic curves."""

from __future__ import annotations

import numpy as np

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


def weighted(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """n indices drawn with probabilities given by a cumulative weight array."""
    picks = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.minimum(picks, len(cdf) - 1)


def seconds_of_day(rng: np.random.Generator, n: int, day_length: int) -> np.ndarray:
    """Times within a local day following the site's daily traffic curve."""
    hours = weighted(rng, np.cumsum(HOURLY_TRAFFIC), n)
    seconds = hours * 3600 + rng.integers(0, 3600, n)
    return np.minimum(seconds, day_length - 1)
