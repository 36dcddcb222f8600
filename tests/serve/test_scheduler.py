"""The scheduler with short intervals and fake syncs: no overlap, isolation, recompute, clean stop."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sqlalchemy import select

from collector.config.model import AppConfig
from collector.serve.scheduler import SyncService
from collector.serve.settings import ServerSettings
from collector.serve.state import StateHolder
from collector.snapshot import Snapshot, save_snapshot
from collector.source_registry import SourceKind
from collector.store.models import DeploymentRow, SyncRun, SyncState
from collector.sync import SyncOutcome, run_source
from connectors.records import Batch, CursorKey, Deployment, DeploymentStatus, utc_now
from connectors.settings import SourceSettings

FAST = ServerSettings(jitter=0, snapshot_refresh=3600, shutdown_grace=5)


def source(name: str, interval: float) -> SourceSettings:
    return SourceSettings(name=name, kind="fake", interval=interval)


class Recorder:
    """A fake ``run_source``: per source a sleep and an outcome; records each run's (start, end)."""

    def __init__(self, sleeps: Mapping[str, float], fail: frozenset[str] = frozenset(), stores: bool = False) -> None:
        self.sleeps = sleeps
        self.fail = fail
        self.stores = stores
        self.runs: dict[str, list[tuple[float, float]]] = {name: [] for name in sleeps}
        self.lock = threading.Lock()

    def __call__(self, engine, config, settings, *, progress=None) -> SyncOutcome:
        start = time.monotonic()
        if settings.name in self.fail:
            with self.lock:
                self.runs[settings.name].append((start, time.monotonic()))
            raise RuntimeError(f"{settings.name} is broken")
        time.sleep(self.sleeps[settings.name])
        end = time.monotonic()
        with self.lock:
            self.runs[settings.name].append((start, end))
        now = utc_now()
        counts = Counter({"deployments": 1}) if self.stores else Counter()
        return SyncOutcome(settings.name, "success", now, now, counts)


def _snapshot(n: int) -> Snapshot:
    at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    return Snapshot(at, at, "h", "dora-2023", ({"window_days": 30, "deployments": n},), ())


def _service(engine, sources, sync, **kw) -> SyncService:
    holder = StateHolder(s.name for s in sources)
    return SyncService(engine, AppConfig(), FAST, holder, sync=sync, sources=sources, **kw)


def test_one_source_never_overlaps_itself(engine):
    # runs take 0.25 s but the interval is 0.05 s: APScheduler must skip, never start a second run
    recorder = Recorder({"slow": 0.25})
    service = _service(engine, [source("slow", 0.05)], recorder, recompute=lambda *a, **k: _snapshot(1))
    service.start()
    time.sleep(1.2)
    service.stop()
    runs = sorted(recorder.runs["slow"])
    assert len(runs) >= 3
    for (_, end), (next_start, _) in pairwise(runs):
        assert next_start >= end


def test_a_failing_and_a_slow_source_do_not_delay_another(engine):
    recorder = Recorder({"slow": 3.0, "broken": 0, "fast": 0.0}, fail=frozenset({"broken"}))
    sources = [source("slow", 0.1), source("broken", 0.1), source("fast", 0.1)]
    service = _service(engine, sources, recorder)
    service.start()
    time.sleep(2.0)
    service.stop(timedelta(seconds=4))
    # within 2 s the slow source is still in its first (3 s) run, while the fast one ran about every
    # 0.1 s (~20 runs; 5 leaves room for a loaded machine)
    assert len(recorder.runs["slow"]) <= 1
    assert len(recorder.runs["fast"]) >= 5
    assert len(recorder.runs["broken"]) >= 5
    health = service.holder.current.sources
    assert health["broken"].up is False
    assert health["broken"].errors_total == len(recorder.runs["broken"])
    assert health["fast"].up is True


def test_recompute_runs_only_after_a_sync_that_stored_something(engine):
    computed: list[datetime] = []

    def recompute(engine, config, *, as_of):
        computed.append(as_of)
        return _snapshot(len(computed))

    nothing = _service(engine, [source("a", 60)], Recorder({"a": 0}), recompute=recompute)
    assert nothing.run_source_job("a") is not None
    assert computed == []
    assert nothing.holder.current.snapshot is None

    stored = _service(engine, [source("a", 60)], Recorder({"a": 0}, stores=True), recompute=recompute)
    stored.run_source_job("a")
    assert len(computed) == 1
    assert stored.holder.current.snapshot == _snapshot(1)


def test_a_scrape_during_a_running_sync_reads_the_previous_snapshot(engine):
    release = threading.Event()
    started = threading.Event()

    def blocking_sync(engine, config, settings, *, progress=None):
        started.set()
        release.wait(5)
        now = utc_now()
        return SyncOutcome(settings.name, "success", now, now, Counter({"deployments": 2}))

    service = _service(engine, [source("a", 60)], blocking_sync, recompute=lambda *a, **k: _snapshot(2))
    service.holder.replace_snapshot(_snapshot(1))
    worker = threading.Thread(target=service.run_source_job, args=("a",))
    worker.start()
    assert started.wait(5)
    assert service.holder.current.snapshot == _snapshot(1)  # sync running: the old snapshot is served
    release.set()
    worker.join(5)
    assert service.holder.current.snapshot == _snapshot(2)


def test_refresh_serves_a_newer_snapshot_saved_by_another_replica(engine):
    service = _service(engine, [], Recorder({}))
    assert service.refresh_snapshot() is False
    save_snapshot(engine, _snapshot(5))
    assert service.refresh_snapshot() is True
    assert service.holder.current.snapshot.as_of == _snapshot(5).as_of
    assert service.refresh_snapshot() is False  # same one again: no swap


def test_refresh_reads_a_snapshot_body_only_when_a_newer_one_was_saved(engine, monkeypatch):
    import collector.serve.scheduler as scheduler_module

    loads: list[int] = []
    real_load = scheduler_module.load_latest_snapshot
    monkeypatch.setattr(scheduler_module, "load_latest_snapshot", lambda e: loads.append(1) or real_load(e))
    service = _service(engine, [], Recorder({}))
    save_snapshot(engine, _snapshot(5))
    assert service.refresh_snapshot() is True and len(loads) == 1
    for _ in range(3):
        assert service.refresh_snapshot() is False
    assert len(loads) == 1  # the periodic refresh compared stamps only
    save_snapshot(engine, _snapshot(6))
    assert service.refresh_snapshot() is True and len(loads) == 2


class PagedSource:
    """Yields ``pages`` batches of one deployment each, sleeping ``pause`` before each page."""

    def __init__(self, settings, pages: int, pause: float) -> None:
        self.name = settings.name
        self.pages = pages
        self.pause = pause

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        for page in range(1, self.pages + 1):
            time.sleep(self.pause)
            deployment = Deployment(
                source=self.name,
                external_id=f"d{page}",
                service="svc",
                environment="production",
                status=DeploymentStatus.SUCCESS,
                sha=f"{page:040x}",
                finished_at=datetime(2024, 1, page, tzinfo=UTC),
            )
            yield Batch((deployment,), {CursorKey("deployments"): str(page)})


def fake_kinds(pages: int, pause: float):
    kind = SourceKind("fake", SourceSettings, lambda settings, context: PagedSource(settings, pages, pause))
    return lambda: {"fake": kind}


def test_stop_ends_a_running_sync_after_a_committed_page(engine, monkeypatch):
    monkeypatch.setattr("collector.sync.source_kinds", fake_kinds(pages=50, pause=0.1))
    service = _service(engine, [source("paged", 3600)], run_source)
    worker = threading.Thread(target=service.run_source_job, args=("paged",))
    worker.start()
    time.sleep(0.55)
    assert service.stop(timedelta(seconds=3)) is True  # stopped well before the 5 s the 50 pages need
    worker.join(3)
    with engine.connect() as connection:
        stored = connection.execute(select(DeploymentRow.external_id)).scalars().all()
        cursor = connection.execute(select(SyncState.cursor)).scalar_one()
        run = connection.execute(select(SyncRun)).one()
    # whole pages only: page k holds deployment dk and sets the cursor to k, in one transaction
    assert 1 <= len(stored) < 50
    assert sorted(stored, key=lambda e: int(e[1:])) == [f"d{i}" for i in range(1, len(stored) + 1)]
    assert cursor == str(len(stored))
    assert run.status == "failed"
    assert "serve is stopping" in run.error


def test_start_runs_each_source_at_once(engine):
    recorder = Recorder({"a": 0})
    # an interval of an hour: a run within the first second can only be the run at start
    service = _service(engine, [source("a", 3600)], recorder)
    service.start()
    deadline = time.monotonic() + 2
    while not recorder.runs["a"] and time.monotonic() < deadline:
        time.sleep(0.05)
    service.stop()
    assert len(recorder.runs["a"]) == 1


def _recorded_run(engine, name: str, finished: datetime, status: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            SyncRun.__table__.insert().values(
                source=name, started_at=finished - timedelta(minutes=1), finished_at=finished, status=status, counts={}
            )
        )


def test_last_success_is_read_from_the_store_at_start_and_moves_forward_with_each_refresh(engine):
    # A restarted process (or a replica that never gets the source's lock) still shows when the source
    # last synced, so the stale-source alert can fire before this process finishes a run of its own.
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _recorded_run(engine, "a", t0, "success")
    _recorded_run(engine, "a", t0 + timedelta(hours=1), "failed")  # a later failure is not a success
    _recorded_run(engine, "other", t0 + timedelta(hours=2), "success")  # not a source of this process
    service = _service(engine, [source("a", 60), source("b", 60)], Recorder({}))
    service.refresh_snapshot()
    health = service.holder.current.sources
    assert health["a"].last_success == t0 and health["a"].up is None and health["a"].errors_total == 0
    assert health["b"].last_success is None and "other" not in health
    _recorded_run(engine, "a", t0 + timedelta(hours=3), "success")  # another replica synced
    service.refresh_snapshot()
    assert service.holder.current.sources["a"].last_success == t0 + timedelta(hours=3)


def test_a_stored_success_never_moves_last_success_back(engine):
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _recorded_run(engine, "a", t0, "success")
    service = _service(engine, [source("a", 60)], Recorder({}))
    service.holder.record_run("a", succeeded=True, finished_at=t0 + timedelta(hours=5), duration_seconds=1.0)
    service.refresh_snapshot()
    assert service.holder.current.sources["a"].last_success == t0 + timedelta(hours=5)
    assert service.holder.current.sources["a"].up is True
