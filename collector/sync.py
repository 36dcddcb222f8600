"""Running sources: each batch stored with its cursors in one transaction, each run recorded.

A failing source is recorded and reported; it never stops the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from collector.config.model import AppConfig
from collector.service_map import ConfigServiceMapper
from collector.source_registry import source_kinds
from collector.store.catalog import sync_catalog
from collector.store.models import SyncRun
from collector.store.withdraw import write_batch
from collector.store.writer import read_cursors, write_cursors
from connectors.base import Source, SourceContext
from connectors.errors import SourceError
from connectors.records import utc_now
from connectors.settings import SourceSettings

logger = logging.getLogger(__name__)

#: Called after each stored batch with (source name, counts so far).
ProgressCallback = Callable[[str, Counter[str]], None]


@dataclass(slots=True)
class SyncOutcome:
    """How one source's run ended."""

    source: str
    status: str  # "success" | "failed"
    started_at: datetime
    finished_at: datetime
    counts: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    #: the source's HTTP request statistics (``RequestStatsSnapshot``) when it makes HTTP requests
    request_stats: Any = None

    @property
    def stored_anything(self) -> bool:
        """Whether the run wrote at least one record."""
        return sum(self.counts.values()) > 0


def run_source(
    engine: Engine,
    config: AppConfig,
    settings: SourceSettings,
    *,
    progress: ProgressCallback | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> SyncOutcome:
    """Sync one source to completion or failure; the run is recorded in ``sync_runs``."""
    started = clock()
    with engine.begin() as connection:
        run_id = connection.execute(
            SyncRun.__table__.insert().returning(SyncRun.__table__.c.id),  # type: ignore[attr-defined]
            {"source": settings.name, "started_at": started, "status": "running", "counts": {}},
        ).scalar_one()
    counts: Counter[str] = Counter()
    error: str | None = None
    source: Source | None = None
    try:
        context = SourceContext(
            run_started_at=started,
            services=ConfigServiceMapper(config),
            production_environments=config.production_environments,
        )
        source = source_kinds()[settings.kind].build(settings, context)
        with engine.connect() as connection:
            cursors = read_cursors(connection, settings.name)
        for batch in source.batches(cursors):
            with engine.begin() as connection:
                counts.update(write_batch(connection, batch.records))
                write_cursors(connection, settings.name, batch.cursors, clock())
            if progress is not None:
                progress(settings.name, counts)
    except SourceError as failure:
        error = str(failure)
        logger.error("%s", error)
    except Exception as failure:
        error = f"source {settings.name!r}: unexpected {type(failure).__name__}: {failure}"
        logger.exception("source %r failed unexpectedly", settings.name)
    finished = clock()
    status = "failed" if error else "success"
    stats = getattr(source, "stats", None)
    request_stats = stats.snapshot() if stats is not None and hasattr(stats, "snapshot") else None
    with engine.begin() as connection:
        connection.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id)
            .values(finished_at=finished, status=status, counts=dict(counts), error=error)
        )
    return SyncOutcome(settings.name, status, started, finished, counts, error, request_stats)


def last_successful_runs(engine: Engine) -> dict[str, datetime]:
    """When each source's last successful run finished, from ``sync_runs`` (any process, any replica)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(SyncRun.source, func.max(SyncRun.finished_at))
            .where(SyncRun.status == "success", SyncRun.finished_at.is_not(None))
            .group_by(SyncRun.source)
        )
        return {str(source): finished for source, finished in rows if finished is not None}


def run_sources(
    engine: Engine,
    config: AppConfig,
    names: Sequence[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> list[SyncOutcome]:
    """Sync every enabled source (or those named), one after another; failures do not stop the rest."""
    with engine.begin() as connection:
        sync_catalog(connection, config)
    selected = [s for s in config.sources if (names is None and s.enabled) or (names is not None and s.name in names)]
    return [run_source(engine, config, settings, progress=progress) for settings in selected]
