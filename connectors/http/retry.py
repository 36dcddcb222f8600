"""Retry policy: which failures are retried, how long to wait, and when to give up.

Definitions:

- retried: connection errors, timeouts, statuses in ``retry_statuses`` (429, 502, 503, 504), and any
  response the API's :class:`~connectors.http.ratelimit.RateLimitReader` marks as rate limited.
- wait: the time the API asked for (``Retry-After`` or its reset header) when it gave one, else
  exponential backoff ``min(max_delay, base_delay * 2**(attempt-1))`` with up to ``jitter`` of it
  added at random (attempt counts from 1).
- a wait longer than ``max_wait`` is never slept through: the caller raises
  :class:`~connectors.errors.RateLimitedError` and the next run resumes.

The clock, the sleep function and the random source are injected so tests never sleep.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.records import utc_now

RETRY_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})

_SYSTEM_RANDOM = secrets.SystemRandom()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one HTTP client retries (see the module docstring for the definitions)."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.25
    max_wait: timedelta = timedelta(minutes=15)
    retry_statuses: frozenset[int] = RETRY_STATUSES
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], datetime] = field(default=utc_now, repr=False)
    random: Callable[[], float] = field(default=_SYSTEM_RANDOM.random, repr=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) when the API gave no time."""
        delay = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return delay + delay * self.jitter * self.random()

    def wait_for(self, attempt: int, retry_at: datetime | None) -> float:
        """Seconds to wait: until ``retry_at`` when the API named a time, else :meth:`backoff`."""
        if retry_at is not None:
            return max(0.0, (retry_at - self.clock()).total_seconds())
        return self.backoff(attempt)

    def too_long(self, seconds: float) -> bool:
        """Whether a wait of ``seconds`` exceeds ``max_wait`` (the source must stop, not sleep)."""
        return seconds > self.max_wait.total_seconds()
