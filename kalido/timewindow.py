"""The logical date as a time window: a run sees everything before the end of that local day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day_end_utc(logical_date: date, timezone: str) -> datetime:
    """Midnight after the logical date in the business time zone, as naive UTC."""
    local_end = datetime.combine(logical_date + timedelta(days=1), time(), ZoneInfo(timezone))
    return local_end.astimezone(UTC).replace(tzinfo=None)
