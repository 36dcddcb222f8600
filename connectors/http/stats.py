"""Request statistics of one source, read by the collector (and exporter) after a run.

Definitions:

- ``requests_by_status``: number of HTTP responses received, keyed by status code, plus the key
  ``"error"`` for attempts that got no response at all (connection error, timeout). Every attempt
  counts, retries included.
- ``retries``: attempts that were followed by another attempt of the same request.
- ``rate_limit_remaining``: the last remaining-quota value an API reported (``None`` if never).
- ``rate_limited_until``: set when the source stopped because the API asked for a wait longer than
  the configured maximum.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class RequestStatsSnapshot:
    """An immutable copy of :class:`RequestStats` at one moment."""

    source: str
    requests_by_status: Mapping[str, int]
    retries: int
    rate_limit_remaining: int | None
    rate_limit_reset_at: datetime | None
    rate_limited_until: datetime | None

    @property
    def total_requests(self) -> int:
        """All attempts, whatever their outcome."""
        return sum(self.requests_by_status.values())


@dataclass(slots=True)
class RequestStats:
    """Mutable counters of one source's HTTP traffic (thread-safe increments)."""

    source: str
    _by_status: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    rate_limit_remaining: int | None = None
    rate_limit_reset_at: datetime | None = None
    rate_limited_until: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_response(self, status: int) -> None:
        """Count one response with HTTP ``status``."""
        with self._lock:
            self._by_status[str(status)] += 1

    def count_error(self) -> None:
        """Count one attempt that got no HTTP response."""
        with self._lock:
            self._by_status["error"] += 1

    def count_retry(self) -> None:
        """Count one retried attempt."""
        with self._lock:
            self.retries += 1

    def observe_rate_limit(self, remaining: int | None, reset_at: datetime | None) -> None:
        """Keep the last remaining-quota value (and its reset time) an API reported."""
        if remaining is None:
            return
        with self._lock:
            self.rate_limit_remaining = remaining
            self.rate_limit_reset_at = reset_at

    def snapshot(self) -> RequestStatsSnapshot:
        """A frozen copy of the counters."""
        with self._lock:
            return RequestStatsSnapshot(
                source=self.source,
                requests_by_status=MappingProxyType(dict(self._by_status)),
                retries=self.retries,
                rate_limit_remaining=self.rate_limit_remaining,
                rate_limit_reset_at=self.rate_limit_reset_at,
                rate_limited_until=self.rate_limited_until,
            )

    def count(self, status: int | str) -> int:
        """How many responses (or ``"error"`` attempts) were counted for ``status``."""
        with self._lock:
            return self._by_status.get(str(status), 0)
