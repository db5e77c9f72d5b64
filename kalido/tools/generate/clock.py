"""The generated days in the business time zone, and instants written as ISO-8601 text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

BUSINESS_TZ = ZoneInfo("Europe/Paris")


def local_midnight(day: date) -> int:
    """Epoch seconds of midnight starting `day` in the business time zone."""
    return int(datetime.combine(day, time(), BUSINESS_TZ).timestamp())


@dataclass(frozen=True)
class Window:
    """The generated days and the local midnights that bound them."""

    dates: list[date]
    starts: list[int]  # each day's local midnight, then the one ending the last day

    @classmethod
    def ending(cls, end_date: date, days: int) -> Window:
        """The `days` consecutive days ending at end_date."""
        dates = [end_date - timedelta(days=days - 1 - i) for i in range(days)]
        starts = [local_midnight(d) for d in dates]
        starts.append(local_midnight(end_date + timedelta(days=1)))
        return cls(dates, starts)

    def bounds(self, d: int) -> tuple[int, int]:
        """Epoch seconds of the start and end of day number d."""
        return self.starts[d], self.starts[d + 1]


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _utc_offset(epoch: int) -> int:
    """Offset of the business time zone from UTC, in seconds, at an instant."""
    return int(datetime.fromtimestamp(epoch, BUSINESS_TZ).utcoffset().total_seconds())


def day_offsets(epochs: np.ndarray, start: int, end: int) -> np.ndarray:
    """UTC offsets for instants within one local day, which may contain a DST change."""
    before, after = _utc_offset(start), _utc_offset(end - 1)
    if before == after:
        return np.full(len(epochs), before, np.int64)
    low, high = start, end - 1  # bisect the first second on the new offset
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _utc_offset(middle) == before else (low, middle)
    return np.where(epochs < high, before, after)


def iso_z(epoch: int) -> str:
    """An instant as ISO-8601 UTC with Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_naive_local(epoch: int) -> str:
    """An instant as Paris wall-clock time without offset, as some source systems send it."""
    return datetime.fromtimestamp(epoch, BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M:%S")
