"""Two `serve` replicas on one PostgreSQL store never sync the same source at the same time.

Each replica is a :class:`SyncService` with its own engine (its own connections, so its own
PostgreSQL sessions, exactly as two processes would have) running the real ``run_source`` on a fake
paged source. The ``sync_runs`` table must show no two runs of the source overlapping in time. A
control run without the advisory lock shows overlaps, so the check can tell the difference.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine, select, text

from collector.config.model import AppConfig
from collector.serve.locks import LocalSourceLocks, PostgresAdvisoryLocks, SourceLocks, source_lock_key
from collector.serve.scheduler import SyncService
from collector.serve.settings import ServerSettings
from collector.serve.state import StateHolder
from collector.source_registry import SourceKind
from collector.store.engine import create_store_engine
from collector.store.models import SyncRun
from collector.sync import run_source
from connectors.records import Batch, CursorKey
from connectors.settings import SourceSettings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(os.environ.get("DM_SKIP_POSTGRES") == "1", reason="DM_SKIP_POSTGRES=1: no PostgreSQL"),
]


class SlowSource:
    """Three pages of nothing, 0.1 s each: a run lasts about 0.3 s."""

    def __init__(self, settings, context) -> None:
        self.name = settings.name

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        for page in range(3):
            time.sleep(0.1)
            yield Batch((), {CursorKey("pages"): str(page)})


SERVER = ServerSettings(jitter=0, snapshot_refresh=3600, shutdown_grace=5)
SOURCE = SourceSettings(name="shared", kind="fake", interval=0.05)


@pytest.fixture
def pg_engines(postgres_url: str):
    engines = [create_store_engine(postgres_url) for _ in range(3)]
    with engines[0].begin() as connection:
        connection.execute(text("TRUNCATE sync_runs, sync_state, deployments RESTART IDENTITY CASCADE"))
    yield engines
    for engine in engines:
        engine.dispose()


def _run_replicas(engines: list[Engine], locks: list[SourceLocks], seconds: float) -> list[SyncService]:
    replicas = [
        SyncService(engine, AppConfig(), SERVER, StateHolder(["shared"]), sync=run_source, locks=lock, sources=[SOURCE])
        for engine, lock in zip(engines, locks, strict=True)
    ]
    for replica in replicas:
        replica.start()
    time.sleep(seconds)
    for replica in replicas:
        replica.stop(timedelta(seconds=5))
    return replicas


def _runs(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        rows = connection.execute(select(SyncRun.started_at, SyncRun.finished_at).where(SyncRun.source == "shared"))
        return sorted(rows.all())


def _overlaps(runs: list[tuple]) -> int:
    return sum(1 for (_, end), (start, _) in pairwise(runs) if end is None or start < end)


@pytest.fixture
def slow_source(monkeypatch):
    kind = SourceKind("fake", SourceSettings, SlowSource)
    monkeypatch.setattr("collector.sync.source_kinds", lambda: {"fake": kind})


def test_two_replicas_never_sync_one_source_at_once(pg_engines, slow_source):
    engines = pg_engines[:2]
    replicas = _run_replicas(engines, [PostgresAdvisoryLocks(e) for e in engines], seconds=2.5)
    runs = _runs(pg_engines[2])
    assert len(runs) >= 4  # about 2.5 s / 0.3 s runs
    assert _overlaps(runs) == 0
    # both replicas tried while the other held the lock, and were turned away
    assert sum(r.skipped["shared"] for r in replicas) > 0


def test_without_the_database_lock_the_same_replicas_overlap(pg_engines, slow_source):
    # control: process-local locks only, so the check above is able to see an overlap
    engines = pg_engines[:2]
    _run_replicas(engines, [LocalSourceLocks(), LocalSourceLocks()], seconds=1.5)
    assert _overlaps(_runs(pg_engines[2])) > 0


def test_the_advisory_lock_is_released_when_its_session_dies(pg_engines):
    holder, other = pg_engines[0], pg_engines[1]
    key = source_lock_key("shared")
    connection = holder.connect().execution_options(isolation_level="AUTOCOMMIT")
    assert connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar() is True
    with PostgresAdvisoryLocks(other).hold("shared") as acquired:
        assert acquired is False
    connection.invalidate()  # the session is closed as if its replica had crashed
    connection.close()
    with PostgresAdvisoryLocks(other).hold("shared") as acquired:
        assert acquired is True
