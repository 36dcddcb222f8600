"""Rebuilding a source's collected rows from its stored raw payloads, without fetching anything.

Definitions:

- a source's *collected rows* are its rows of ``commits``, ``pull_requests``, ``deployments``,
  ``incidents`` and ``pipeline_runs`` (``source`` column equal to its name);
- the *rebuilt rows* are what the connector's ``records_from_payloads`` (see
  :mod:`connectors.rebuild_support`) maps the source's ``raw_payloads`` to with the current settings
  and config, one row per natural key (the last record of a key wins, as in a sync);
- per table, a rebuilt row whose key has no collected row is *added*, one whose key has a different
  collected row is *changed*, one equal to it is *unchanged*, and a collected row with no rebuilt row
  is *removed*. A commit or pull request whose key is held by another source (two sources seeing one
  repository) is left to that source and counted as *shared*;
- a source is rebuilt in one transaction: removed rows deleted (their derived link rows go with
  them; the next recompute derives links again), added and changed rows upserted. Cursors
  (``sync_state``) and raw payloads are never touched. A failure rolls that source back and the
  others are still rebuilt.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, select

from collector.config.model import AppConfig
from collector.service_map import ConfigServiceMapper
from collector.source_registry import CONNECTOR_MODULES
from collector.store.catalog import sync_catalog
from collector.store.deletion import delete_rows
from collector.store.models import RawPayloadRow
from collector.store.writer import RECORD_TABLES, record_row, write_records
from connectors.base import SourceContext
from connectors.rebuild_support import RecordsFromPayloads
from connectors.records import DeploymentWithdrawal, RawPayload, Record, utc_now
from connectors.settings import SourceSettings

logger = logging.getLogger(__name__)

#: the collected tables (every stored record type but raw payloads), in the order the counts are printed
COLLECTED_TABLES: dict[type, tuple[Table, tuple[str, ...], str]] = {
    record_type: where for record_type, where in RECORD_TABLES.items() if record_type is not RawPayload
}

Key = tuple[Any, ...]


class NotRebuildableError(Exception):
    """A source whose kind or settings cannot be rebuilt from raw payloads; the message says why."""


@dataclass(slots=True)
class TableDiff:
    """How one table of one source changes (see the module docstring for each count)."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    shared: int = 0

    def summary(self) -> str:
        """``2 added, 1 changed, 0 removed, 5 unchanged`` (plus the shared rows when there are any)."""
        text = f"{self.added} added, {self.changed} changed, {self.removed} removed, {self.unchanged} unchanged"
        return text + (f", {self.shared} held by another source" if self.shared else "")


@dataclass(slots=True)
class RebuildOutcome:
    """How one source's rebuild ended: ``rebuilt``, ``dry_run``, ``failed`` or ``not_rebuildable``."""

    source: str
    status: str
    payloads: int = 0
    tables: dict[str, TableDiff] = field(default_factory=dict)
    error: str | None = None


@dataclass(slots=True)
class RebuildPlan:
    """What writing a rebuild of one source does: the rows to delete and the records to upsert."""

    tables: dict[str, TableDiff]
    deletions: dict[str, list[int]]
    writes: list[Record]


def rebuild_entry(settings: SourceSettings) -> RecordsFromPayloads:
    """The connector's ``records_from_payloads`` for ``settings``; :class:`NotRebuildableError` when none."""
    module = importlib.import_module(CONNECTOR_MODULES[settings.kind])
    entry: RecordsFromPayloads | None = getattr(module, "records_from_payloads", None)
    if entry is None:
        reason = getattr(module, "REBUILD_UNSUPPORTED", "no rebuild from raw payloads is implemented for it")
        raise NotRebuildableError(not_rebuildable_message(settings, reason))
    blocker: Callable[[Any], str | None] | None = getattr(module, "rebuild_blocker", None)
    reason = blocker(settings) if blocker is not None else None
    if reason:
        raise NotRebuildableError(not_rebuildable_message(settings, reason))
    return entry


def not_rebuildable_message(settings: SourceSettings, reason: str) -> str:
    """The message of a source that cannot be rebuilt."""
    return f"{settings.name}: kind {settings.kind} cannot be rebuilt from raw payloads: {reason}; re-sync it instead"


def read_payloads(connection: Connection, source: str) -> list[RawPayload]:
    """Every stored raw payload of ``source``, in the order they were first stored."""
    table = RawPayloadRow.__table__
    rows = connection.execute(select(table).where(table.c.source == source).order_by(table.c.id))  # type: ignore[attr-defined]
    return [
        RawPayload(
            source=row.source, kind=row.kind, external_id=row.external_id, fetched_at=row.fetched_at, body=row.body
        )
        for row in rows
    ]


def plan_rebuild(connection: Connection, source: str, records: Iterable[Record]) -> RebuildPlan:
    """Compare the rebuilt ``records`` of ``source`` with its collected rows (see the module docstring)."""
    wanted: dict[type, dict[Key, tuple[Record, dict[str, Any]]]] = {t: {} for t in COLLECTED_TABLES}
    for record in records:
        if isinstance(record, RawPayload | DeploymentWithdrawal):
            continue  # a withdrawal: the rebuild keeps only what the payloads map to
        _, key_columns, _ = COLLECTED_TABLES[type(record)]
        row = record_row(record)
        wanted[type(record)][tuple(row[c] for c in key_columns)] = (record, row)
    plan = RebuildPlan(tables={}, deletions={}, writes=[])
    for record_type, (table, key_columns, label) in COLLECTED_TABLES.items():
        diff = TableDiff()
        stored = _stored_rows(connection, table, key_columns, wanted[record_type].keys(), source)
        removed: list[int] = []
        for key, row in stored.items():
            if row["source"] == source and key not in wanted[record_type]:
                removed.append(row["id"])
        for key, (record, row) in wanted[record_type].items():
            held = stored.get(key)
            if held is None:
                diff.added += 1
                plan.writes.append(record)
            elif held["source"] != source:
                diff.shared += 1
            elif all(held[name] == value for name, value in row.items()):
                diff.unchanged += 1
            else:
                diff.changed += 1
                plan.writes.append(record)
        diff.removed = len(removed)
        plan.tables[label] = diff
        plan.deletions[label] = removed
    return plan


def _stored_rows(
    connection: Connection, table: Table, key_columns: Sequence[str], wanted: Iterable[Key], source: str
) -> dict[Key, dict[str, Any]]:
    """The collected rows of ``source`` plus, for commits and pull requests, the rows of other sources
    holding one of the ``wanted`` keys."""
    rows = {
        tuple(row[c] for c in key_columns): dict(row)
        for row in connection.execute(select(table).where(table.c.source == source)).mappings()
    }
    if "source" in key_columns:
        return rows
    missing = [key for key in wanted if key not in rows]
    repos = sorted({key[0] for key in missing})
    if repos:
        query = select(table).where(table.c.repo.in_(repos), table.c.source != source)
        held = {tuple(row[c] for c in key_columns): dict(row) for row in connection.execute(query).mappings()}
        rows.update({key: held[key] for key in missing if key in held})
    return rows


def apply_plan(connection: Connection, plan: RebuildPlan) -> None:
    """Delete the removed rows and upsert the added and changed ones, in the caller's transaction."""
    for table, _, label in COLLECTED_TABLES.values():
        delete_rows(connection, table, plan.deletions[label])
    write_records(connection, plan.writes)


def rebuild_source(
    engine: Engine,
    config: AppConfig,
    settings: SourceSettings,
    *,
    dry_run: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> RebuildOutcome:
    """Rebuild one source's collected rows from its raw payloads (or only count the changes)."""
    try:
        entry = rebuild_entry(settings)
    except NotRebuildableError as reason:
        return RebuildOutcome(settings.name, "not_rebuildable", error=str(reason))
    context = SourceContext(
        run_started_at=clock(),
        services=ConfigServiceMapper(config),
        production_environments=config.production_environments,
    )
    outcome = RebuildOutcome(settings.name, "dry_run" if dry_run else "rebuilt")
    try:
        with engine.begin() as connection:
            payloads = read_payloads(connection, settings.name)
            outcome.payloads = len(payloads)
            plan = plan_rebuild(connection, settings.name, entry(settings, context, payloads))
            outcome.tables = plan.tables
            if not dry_run:
                apply_plan(connection, plan)
    except Exception as failure:
        outcome.status = "failed"
        outcome.error = f"{settings.name}: rebuild failed, nothing changed: {type(failure).__name__}: {failure}"
        logger.exception("source %r: rebuild failed; rolled back", settings.name)
    return outcome


def rebuild_sources(
    engine: Engine, config: AppConfig, names: Sequence[str] | None = None, *, dry_run: bool = False
) -> list[RebuildOutcome]:
    """Rebuild every enabled source (or those named), one transaction each; failures do not stop the rest."""
    if not dry_run:
        with engine.begin() as connection:
            sync_catalog(connection, config)
    selected = [s for s in config.sources if (names is None and s.enabled) or (names is not None and s.name in names)]
    return [rebuild_source(engine, config, settings, dry_run=dry_run) for settings in selected]
