"""The contract between a source and the collector.

A source is built from its validated settings and a read-only view of its stored cursors. Its
:meth:`Source.batches` yields :class:`~connectors.records.Batch` objects; the collector writes each
batch's records (applying its :class:`~connectors.records.IncidentWithdrawal` records, see
:mod:`collector.store.withdraw`) and cursors in one transaction before asking for the next. A source therefore
never touches the database, and a crash between batches loses nothing and skips nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from connectors.records import Batch, CursorKey


class Source(Protocol):
    """What the collector needs from any source."""

    name: str

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Yield batches of new or changed records, each with the cursors it advances."""
        ...


class ServiceMapper(Protocol):
    """Maps what a source knows (a repository, plus optionally a changed path) to a service name."""

    def service_for_repo(self, repo: str) -> str | None:
        """The service owning ``repo``, or ``None`` when no configured service claims it."""
        ...


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What the collector hands a source when it builds it for one run.

    ``run_started_at`` caps every new watermark (a source never stores a cursor later than the start
    of the run that produced it). ``services`` maps repositories to the configured services.
    ``production_environments`` is the default set of environment names counted as production.
    """

    run_started_at: datetime
    services: ServiceMapper
    production_environments: tuple[str, ...] = ("production", "prod")
