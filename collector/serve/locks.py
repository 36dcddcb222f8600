"""At most one sync of a source at a time: in this process, and across replicas on PostgreSQL.

- :class:`LocalSourceLocks`: one non-blocking ``threading.Lock`` per source (this process only).
- :class:`PostgresAdvisoryLocks`: additionally a PostgreSQL *session-level* advisory lock taken with
  ``pg_try_advisory_lock(key)`` on a dedicated connection held for the whole sync, ``key`` being a
  64-bit hash of the source name (:func:`source_lock_key`). If the replica dies, its connection
  dies and PostgreSQL releases the lock: no lease to expire, no stale lock to clean up.

SQLite has no such lock: with SQLite, run a single ``serve`` replica (documented in ``docs/api.md``).
A replica that does not get the lock skips that run; the next interval tries again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = b"delivery-metrics/source/"


def source_lock_key(source: str) -> int:
    """The signed 64-bit advisory-lock key of ``source``: the first 8 bytes of SHA-256 of a namespaced name."""
    digest = hashlib.sha256(LOCK_NAMESPACE + source.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SourceLocks(Protocol):
    """Grants exclusive sync rights on a source, without waiting."""

    def hold(self, source: str) -> AbstractContextManager[bool]:
        """A context yielding ``True`` if this caller may sync ``source`` now (released on exit)."""
        ...


class LocalSourceLocks:
    """One lock per source name, in this process."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, source: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(source, threading.Lock())

    @contextmanager
    def hold(self, source: str) -> Iterator[bool]:
        """Yield whether the lock was free (and is now held until the block ends)."""
        lock = self._lock(source)
        acquired = lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()


class PostgresAdvisoryLocks:
    """The local lock, then a session-level PostgreSQL advisory lock on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = LocalSourceLocks()

    @contextmanager
    def hold(self, source: str) -> Iterator[bool]:
        """Yield whether both locks were free; the advisory lock lives as long as its connection."""
        with self._local.hold(source) as local:
            if not local:
                yield False
                return
            key = source_lock_key(source)
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
                try:
                    yield acquired
                finally:
                    if acquired:
                        _unlock(connection, key)
            finally:
                connection.close()


def _unlock(connection: Connection, key: int) -> None:
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    except SQLAlchemyError:
        # never hand a session that may still hold the lock back to the pool: drop it instead
        logger.warning("could not release advisory lock %d; dropping its connection", key)
        connection.invalidate()


def source_locks_for(engine: Engine) -> SourceLocks:
    """Advisory locks on PostgreSQL, process-local locks on SQLite (single replica)."""
    if engine.dialect.name == "postgresql":
        return PostgresAdvisoryLocks(engine)
    return LocalSourceLocks()
