"""The Prometheus exposition, rendered once per served state and reused by every scrape until the next.

The state held by :class:`~collector.serve.state.StateHolder` is immutable and replaced whole (a new
snapshot, a source run recorded), so the rendered text is a pure function of that object: a scrape
compares one reference and returns the cached bytes. Rendering happens at most once per state, under
a lock, so concurrent scrapes right after a swap wait for one rendering instead of each doing it.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, generate_latest

from collector.serve.state import ServeState, StateHolder


class ExpositionCache:
    """``render()`` → the exposition bytes of the state currently held."""

    def __init__(self, registry: CollectorRegistry, holder: StateHolder) -> None:
        self._registry = registry
        self._holder = holder
        self._lock = threading.Lock()
        self._cached: tuple[ServeState, bytes] | None = None

    def render(self) -> bytes:
        """The bytes for the current state, rendered now only if the state changed since last time."""
        state = self._holder.current
        cached = self._cached
        if cached is not None and cached[0] is state:
            return cached[1]
        with self._lock:
            cached = self._cached
            state = self._holder.current
            if cached is not None and cached[0] is state:
                return cached[1]
            # collectors read holder.current themselves; rendering under the lock against the state
            # just read keeps key and bytes in step unless a swap lands mid-render, in which case the
            # next scrape simply renders again
            body = generate_latest(self._registry)
            self._cached = (state, body)
            return body
