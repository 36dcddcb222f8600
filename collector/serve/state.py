"""What `serve` shows: the current metric snapshot and each source's health, replaced whole.

:class:`StateHolder` keeps one reference to an immutable :class:`ServeState`. Readers (the
Prometheus collector, the API) read ``holder.current`` once and use that object: no lock, no I/O.
Writers (scheduler jobs, on their own threads) build a new state and swap the reference; they
serialise among themselves with a lock that readers never take.

Health definitions, per source:

- ``up``: the last finished run succeeded (``None`` until a run of this process has finished).
- ``last_success``: when the last successful run finished: of this process, or, read from the store's
  ``sync_runs`` at start and at every snapshot refresh, of any process or replica (so the value
  survives a restart, and a replica that did not get a source's lock still shows when it last synced).
- ``last_duration_seconds``: wall time of the last finished run.
- ``errors_total``: failed runs since the process started.
- ``requests_by_code``: HTTP attempts since the process started, by status code (``"error"`` for no
  response), summed from the request statistics a run reports (``SyncOutcome.request_stats``).
- ``rate_limit_remaining``: the last remaining API quota a run reported.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from collector.snapshot import Snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """The health of one source as of its last finished run."""

    source: str
    up: bool | None = None
    last_success: datetime | None = None
    last_duration_seconds: float | None = None
    errors_total: int = 0
    requests_by_code: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    rate_limit_remaining: int | None = None


@dataclass(frozen=True, slots=True)
class ServeState:
    """One immutable view: the snapshot served (``None`` before the first one) and every source's health."""

    snapshot: Snapshot | None
    sources: Mapping[str, SourceHealth]


class StateHolder:
    """Holds the current :class:`ServeState` by reference; see the module docstring."""

    def __init__(self, sources: Iterable[str] = (), snapshot: Snapshot | None = None) -> None:
        health = {name: SourceHealth(name) for name in sources}
        self._state = ServeState(snapshot, MappingProxyType(health))
        self._write_lock = threading.Lock()
        self._subscribers: list[Callable[[], object]] = []

    def subscribe(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` after every swap, in the writer's thread (e.g. to pre-render the exposition
        so that no scrape pays for it); its exceptions are logged, never raised to the writer."""
        self._subscribers.append(callback)

    def _notify(self) -> None:
        for callback in tuple(self._subscribers):
            try:
                callback()
            except Exception:  # a subscriber never breaks a sync or a recompute
                logger.exception("a state subscriber failed")

    @property
    def current(self) -> ServeState:
        """The state to read: one attribute read, never blocked by a writer."""
        return self._state

    def replace_snapshot(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` from now on (one reference swap)."""
        with self._write_lock:
            self._state = replace(self._state, snapshot=snapshot)
        self._notify()

    def note_successes(self, finished: Mapping[str, datetime]) -> None:
        """Move each known source's ``last_success`` forward to ``finished[source]`` when that is later
        (successful runs recorded in the store); nothing else of its health changes."""
        with self._write_lock:
            sources = dict(self._state.sources)
            changed = False
            for name, health in sources.items():
                at = finished.get(name)
                if at is not None and (health.last_success is None or at > health.last_success):
                    sources[name] = replace(health, last_success=at)
                    changed = True
            if not changed:
                return
            self._state = replace(self._state, sources=MappingProxyType(sources))
        self._notify()

    def record_run(
        self,
        source: str,
        *,
        succeeded: bool,
        finished_at: datetime,
        duration_seconds: float,
        request_stats: Any = None,
    ) -> None:
        """Fold one finished run of ``source`` into its health and swap the state.

        ``request_stats`` is a ``connectors.http.stats.RequestStatsSnapshot`` (or anything with
        ``requests_by_status`` and ``rate_limit_remaining``) describing that run alone, or ``None``.
        """
        with self._write_lock:
            previous = self._state.sources.get(source, SourceHealth(source))
            requests: Counter[str] = Counter(previous.requests_by_code)
            remaining = previous.rate_limit_remaining
            if request_stats is not None:
                requests.update({str(k): int(v) for k, v in request_stats.requests_by_status.items()})
                if request_stats.rate_limit_remaining is not None:
                    remaining = int(request_stats.rate_limit_remaining)
            health = SourceHealth(
                source=source,
                up=succeeded,
                last_success=finished_at if succeeded else previous.last_success,
                last_duration_seconds=duration_seconds,
                errors_total=previous.errors_total + (0 if succeeded else 1),
                requests_by_code=MappingProxyType(dict(requests)),
                rate_limit_remaining=remaining,
            )
            sources = dict(self._state.sources)
            sources[source] = health
            self._state = replace(self._state, sources=MappingProxyType(sources))
        self._notify()
