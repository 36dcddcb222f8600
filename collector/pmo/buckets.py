"""Calendar buckets: ISO weeks, months and quarters in UTC.

A bucket is ``[start, end)`` with both ends at midnight UTC. Its metrics are the engine's window of
``days = (end - start)`` days ending at ``as_of = end``, i.e. items with ``start < t <= end`` (the
engine's windows are open at the start and closed at the end), so deployment frequency is per day
of that very bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

Period = Literal["weekly", "monthly", "quarterly"]
PERIODS: tuple[Period, ...] = ("weekly", "monthly", "quarterly")


@dataclass(frozen=True, slots=True)
class Bucket:
    """One calendar period ``[start, end)`` (aware UTC datetimes at midnight) and its label."""

    label: str
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        """The length in whole days (7; 28–31; 90–92)."""
        return (self.end - self.start).days


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def bucket_start(period: Period, day: date) -> date:
    """The first day of the bucket of ``period`` containing ``day``."""
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def next_start(period: Period, start: date) -> date:
    """The first day of the bucket after the one starting on ``start``."""
    if period == "weekly":
        return start + timedelta(days=7)
    months = 1 if period == "monthly" else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def label_of(period: Period, start: date) -> str:
    """``2026-W07``, ``2026-02`` or ``2026-Q1``."""
    if period == "weekly":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "monthly":
        return f"{start.year}-{start.month:02d}"
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def calendar_buckets(period: Period, first: date, until: datetime) -> tuple[Bucket, ...]:
    """The complete buckets from the one containing ``first`` up to ``until`` (aware).

    A bucket is complete when its end is at or before ``until``; the running bucket is left out,
    because a partial bucket would understate deployment frequency. ``ValueError`` on a naive
    ``until``.
    """
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    buckets: list[Bucket] = []
    start = bucket_start(period, first)
    while True:
        end = next_start(period, start)
        if _midnight(end) > until:
            break
        buckets.append(Bucket(label_of(period, start), _midnight(start), _midnight(end)))
        start = end
    return tuple(buckets)
