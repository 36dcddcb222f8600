"""The Prometheus exposition, rendered once per served state and reused by every scrape until the next.

It is also gzip-compressed once per state, for clients that accept it (Prometheus does): a large
organisation's exposition is several megabytes of highly repetitive text.

The state held by :class:`~collector.serve.state.StateHolder` is immutable and replaced whole (a new
snapshot, a source run recorded), so the rendered text is a pure function of that object: a scrape
compares one reference and returns the cached bytes. Rendering happens at most once per state, under
a lock, so concurrent scrapes right after a swap wait for one rendering instead of each doing it.
"""

from __future__ import annotations

import gzip
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
        self._compressed: tuple[bytes, bytes] | None = None  # (plain body, its gzip)

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

    def render_gzip(self) -> bytes:
        """The gzip of :meth:`render`'s bytes, compressed at most once per rendering."""
        body = self.render()
        compressed = self._compressed
        if compressed is not None and compressed[0] is body:
            return compressed[1]
        with self._lock:
            compressed = self._compressed
            if compressed is not None and compressed[0] is body:
                return compressed[1]
            packed = gzip.compress(body, compresslevel=6)
            self._compressed = (body, packed)
            return packed


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header value admits gzip (and does not refuse it with q=0)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower().removeprefix("q=")
            try:
                return float(quality) > 0 if quality else True
            except ValueError:
                return False
    return False
