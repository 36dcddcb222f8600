"""The Prometheus exposition, rendered once per served state and reused by every scrape until the next.

It is also gzip-compressed once per state, for clients that accept it (Prometheus does): a large
organisation's exposition is megabytes of highly repetitive text.

The state held by :class:`~collector.serve.state.StateHolder` is immutable and replaced whole (a new
snapshot, a source run recorded), so the rendered text is a pure function of that object: a scrape
compares one reference and returns the cached bytes. Rendering happens at most once per state, under
a lock, so concurrent scrapes right after a swap wait for one rendering instead of each doing it.

The text has two parts, rendered apart: the DORA and goal families, a function of the snapshot
alone (almost every byte), and the collector-health families, which change with every finished
sync. A state that only records a source run re-renders the health part (a few lines per source)
and reuses the snapshot part's bytes; only a new snapshot renders everything again.

:meth:`ExpositionCache.ready` is the scrape's fast path: the cached bytes of the current state, or
``None`` when they must be rendered first. The ``/metrics`` handler answers it on the event loop (a
reference comparison, no work proportional to the series) and only goes to a worker thread to
render, once per state.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric

from collector.serve.state import ServeState, StateHolder


class Collectable(Protocol):
    """What ``generate_latest`` renders: a registry (or anything yielding metric families)."""

    def collect(self) -> Iterable[Metric]: ...


class ExpositionCache:
    """``render()`` → the exposition bytes of the state currently held.

    ``per_snapshot`` renders the families that depend on the snapshot alone, ``per_state`` the
    rest (see :func:`~collector.serve.exporter.build_exposition_registries`).
    """

    def __init__(self, holder: StateHolder, per_snapshot: Collectable, per_state: Collectable) -> None:
        self._holder = holder
        self._per_snapshot = per_snapshot
        self._per_state = per_state
        self._lock = threading.Lock()
        self._cached: tuple[ServeState, bytes] | None = None
        self._snapshot_part: tuple[object, bytes] | None = None  # (the snapshot, its families' text)
        self._compressed: tuple[bytes, bytes] | None = None  # (plain body, its gzip)

    def ready(self, gzipped: bool) -> bytes | None:
        """The bytes for the current state if already rendered (and compressed when ``gzipped``), else
        ``None``; never renders, never blocks."""
        cached = self._cached
        if cached is None or cached[0] is not self._holder.current:
            return None
        if not gzipped:
            return cached[1]
        compressed = self._compressed
        return compressed[1] if compressed is not None and compressed[0] is cached[1] else None

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
            # the collectors read holder.current themselves; rendering under the lock against the
            # state just read keeps keys and bytes in step unless a swap lands mid-render, in which
            # case the next scrape sees a state (or snapshot) other than the key and renders again
            part = self._snapshot_part
            if part is None or part[0] is not state.snapshot:
                part = (state.snapshot, generate_latest(self._per_snapshot))  # type: ignore[arg-type]
                self._snapshot_part = part
            body = part[1] + generate_latest(self._per_state)  # type: ignore[arg-type]
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
