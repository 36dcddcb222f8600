"""The `serve` scheduler: each source on its own interval, recompute after any sync that stored something.

One APScheduler 3.x ``BackgroundScheduler`` job per enabled source (``max_instances=1``,
``coalesce=True``, the source's ``interval`` plus up to ``server.jitter`` of random delay, first run
at start), on a thread pool with a thread per source, so a slow or failing source never delays
another. Each run takes the source's lock first (:mod:`collector.serve.locks`): a replica that does
not get it skips the run. After a run that stored something the metrics are recomputed and the
served snapshot replaced (recomputations are serialised). A ``refresh`` job re-reads the newest
saved snapshot so replicas that did not sync serve what another replica computed.

Stopping: :meth:`SyncService.stop` sets a flag that the sync's progress callback checks after each
committed page; the run then ends as failed with "serve is stopping" (its cursors are saved with the
last committed page, so the next start resumes there). A page still being written when the grace
period ends is rolled back by the database when the process exits.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from collector.config.model import AppConfig
from collector.pmo.schedule import register_digest_job
from collector.serve.locks import SourceLocks, source_locks_for
from collector.serve.settings import ServerSettings
from collector.serve.state import StateHolder
from collector.snapshot import Snapshot, latest_snapshot_stamp, load_latest_snapshot
from collector.sync import ProgressCallback, SyncOutcome, last_successful_runs, run_source
from connectors.records import utc_now
from connectors.settings import SourceSettings

logger = logging.getLogger(__name__)

REFRESH_JOB_ID = "refresh-snapshot"
RECOMPUTE_JOB_ID = "recompute"


class SyncFunction(Protocol):
    """``collector.sync.run_source``'s shape."""

    def __call__(
        self, engine: Engine, config: AppConfig, settings: SourceSettings, *, progress: ProgressCallback | None = None
    ) -> SyncOutcome: ...


class RecomputeFunction(Protocol):
    """``collector.recompute.recompute``'s shape: compute, save and return the snapshot."""

    def __call__(self, engine: Engine, config: AppConfig, *, as_of: datetime) -> Snapshot: ...


class ServeStopping(Exception):
    """Raised from the progress callback after a committed page when `serve` is stopping."""


def default_recompute(engine: Engine, config: AppConfig, *, as_of: datetime) -> Snapshot:
    """``collector.recompute.recompute`` (imported when first needed)."""
    from collector.recompute import recompute  # type: ignore[import-not-found, unused-ignore]

    snapshot: Snapshot = recompute(engine, config, as_of=as_of)
    return snapshot


def _newer(candidate: Snapshot | None, current: Snapshot | None) -> bool:
    if candidate is None:
        return False
    return current is None or (candidate.computed_at, candidate.as_of) > (current.computed_at, current.as_of)


class SyncService:
    """Runs the sources on schedule and keeps ``holder`` up to date (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        config: AppConfig,
        server: ServerSettings,
        holder: StateHolder,
        *,
        sync: SyncFunction = run_source,
        recompute: RecomputeFunction = default_recompute,
        locks: SourceLocks | None = None,
        clock: Callable[[], datetime] = utc_now,
        sources: Sequence[SourceSettings] | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.server = server
        self.holder = holder
        self._sync = sync
        self._recompute = recompute
        self._locks = locks if locks is not None else source_locks_for(engine)
        self._clock = clock
        chosen = config.sources if sources is None else sources
        self.sources: dict[str, SourceSettings] = {s.name: s for s in chosen if s.enabled}
        self._recompute_lock = threading.Lock()
        self._stopping = threading.Event()
        self._busy = Counter[str]()
        self._busy_lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self.skipped: Counter[str] = Counter()
        self._scheduler: BackgroundScheduler | None = None

    # -- the jobs ---------------------------------------------------------------------------------

    def run_source_job(self, name: str) -> SyncOutcome | None:
        """One scheduled run of source ``name``; ``None`` when another replica holds its lock.

        The only broad ``except`` of the process: a run never kills the scheduler thread.
        """
        if self._stopping.is_set():
            return None
        settings = self.sources[name]
        with self._track(name), ExitStack() as stack:
            started = self._clock()
            try:  # taking the lock needs the database (PostgreSQL), which may be unreachable
                acquired = stack.enter_context(self._locks.hold(name))
                if not acquired:
                    self.skipped[name] += 1
                    logger.info("source %r: skipped, another replica is syncing it", name)
                    return None
                outcome = self._sync(self.engine, self.config, settings, progress=self._progress)
            except Exception:  # the job boundary: log, count, carry on
                logger.exception("source %r: sync crashed", name)
                finished = self._clock()
                self.holder.record_run(
                    name, succeeded=False, finished_at=finished, duration_seconds=(finished - started).total_seconds()
                )
                return None
            self.holder.record_run(
                name,
                succeeded=outcome.status == "success",
                finished_at=outcome.finished_at,
                duration_seconds=(outcome.finished_at - outcome.started_at).total_seconds(),
                request_stats=getattr(outcome, "request_stats", None),
            )
        if outcome.stored_anything and not self._stopping.is_set():
            self.recompute_now()
        return outcome

    def _progress(self, source: str, counts: Counter[str]) -> None:
        if self._stopping.is_set():
            raise ServeStopping(f"serve is stopping; {source!r} stops after its last committed page")

    def recompute_now(self) -> Snapshot | None:
        """Recompute, save and serve a snapshot as of now (one at a time); ``None`` if it failed."""
        with self._recompute_lock:
            try:
                snapshot = self._recompute(self.engine, self.config, as_of=self._clock())
            except Exception:  # the job boundary
                logger.exception("recomputing the metrics failed; still serving the previous snapshot")
                return None
            self.holder.replace_snapshot(snapshot)
            logger.info("metrics recomputed as of %s", snapshot.as_of.isoformat())
            return snapshot

    def refresh_snapshot(self) -> bool:
        """Serve the newest saved snapshot if it is newer than the one served; return whether it was.

        Also moves each source's ``last_success`` forward to its last successful run in the store.
        """
        self.refresh_last_successes()
        served = self.holder.current.snapshot
        try:
            stamp = latest_snapshot_stamp(self.engine)
            if stamp is None or (served is not None and stamp <= (served.computed_at, served.as_of)):
                return False  # nothing newer: the body (megabytes at scale) is not read
            latest = load_latest_snapshot(self.engine)
        except Exception:  # the job boundary: the database may be briefly unreachable
            logger.exception("reading the latest snapshot failed")
            return False
        if _newer(latest, self.holder.current.snapshot):
            assert latest is not None
            self.holder.replace_snapshot(latest)
            return True
        return False

    def refresh_last_successes(self) -> None:
        """Each source's last successful run recorded in the store (any process or replica), into its health."""
        try:
            finished = last_successful_runs(self.engine)
        except Exception:  # the job boundary: the database may be briefly unreachable
            logger.exception("reading the sources' last successful runs failed")
            return
        self.holder.note_successes(finished)

    def request_recompute(self) -> None:
        """Ask for a recompute soon (after pushed events); coalesced with one already pending."""
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            threading.Thread(target=self.recompute_now, name="recompute", daemon=True).start()
            return
        scheduler.add_job(self.recompute_now, id=RECOMPUTE_JOB_ID, replace_existing=True, next_run_time=self._clock())

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the saved snapshot (or compute one if none), then start the scheduler; returns at once."""
        self.refresh_snapshot()
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=len(self.sources) + 2)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone="UTC",
        )
        now = self._clock()
        jitter = self.server.jitter.total_seconds() or None
        for name, settings in self.sources.items():
            scheduler.add_job(
                self.run_source_job,
                IntervalTrigger(seconds=settings.interval.total_seconds(), jitter=jitter, timezone="UTC"),
                args=[name],
                id=f"sync:{name}",
                name=f"sync {name}",
                next_run_time=now,
            )
        scheduler.add_job(
            self.refresh_snapshot,
            IntervalTrigger(seconds=self.server.snapshot_refresh.total_seconds(), timezone="UTC"),
            id=REFRESH_JOB_ID,
            name="refresh snapshot",
        )
        if self.holder.current.snapshot is None:  # data may be stored already: do not wait for a sync
            scheduler.add_job(self._recompute_if_available, id=RECOMPUTE_JOB_ID, next_run_time=now)
        register_digest_job(scheduler, self.engine, self.config, clock=self._clock)
        scheduler.start()
        self._scheduler = scheduler
        logger.info("scheduler started: %d source(s)", len(self.sources))

    def _recompute_if_available(self) -> None:
        try:
            self.recompute_now()
        except ImportError:  # pragma: no cover - until collector.recompute exists
            logger.warning("collector.recompute is not available: serving saved snapshots only")

    def stop(self, grace: timedelta | None = None) -> bool:
        """Stop scheduling, let runs in flight stop after their page; True if none is left after ``grace``."""
        self._stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        deadline = (grace or self.server.shutdown_grace).total_seconds()
        idle = self._idle.wait(timeout=deadline) if self.busy() else True
        if not idle:
            logger.warning(
                "still syncing %s after %.0fs: the page in flight will be rolled back", self.busy(), deadline
            )
        return idle

    def busy(self) -> list[str]:
        """The sources being synced right now."""
        with self._busy_lock:
            return sorted(name for name, count in self._busy.items() if count)

    # -- internals --------------------------------------------------------------------------------

    @contextmanager
    def _track(self, name: str) -> Iterator[None]:
        """Count a run of ``name`` as in flight while the block runs (for :meth:`stop`)."""
        with self._busy_lock:
            self._busy[name] += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy[name] -= 1
                if not any(self._busy.values()):
                    self._idle.set()
