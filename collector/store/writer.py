"""Persisting domain records: each batch of a source is written, with its cursors, in one transaction.

A record maps to one row of its table: column ``name`` holds field ``name`` (:func:`record_values`,
the one definition of that mapping). :func:`write_records` converts those values once per column to
what the driver takes (:mod:`collector.store.driver_values`) and upserts them with the driver's
``executemany`` (:func:`collector.store.upsert.upsert_driver_rows`); :func:`record_row` gives the
same values as a mapping for SQLAlchemy statements.
"""

from __future__ import annotations

import marshal
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table

from collector.store.driver_values import column_converters
from collector.store.models import (
    CommitRow,
    DeploymentRow,
    IncidentRow,
    PipelineRunRow,
    PullRequestRow,
    RawPayloadRow,
    Repository,
    SyncState,
)
from collector.store.types import json_value
from collector.store.upsert import upsert, upsert_driver_rows
from connectors.records import (
    Commit,
    CursorKey,
    Deployment,
    Incident,
    PipelineRun,
    PullRequest,
    RawPayload,
    Record,
)

#: record type → (table, natural key columns, table name): where and on which key each record is stored
RECORD_TABLES: dict[type, tuple[Table, tuple[str, ...], str]] = {
    Commit: (CommitRow.__table__, ("repo", "sha"), "commits"),  # type: ignore[dict-item]
    PullRequest: (PullRequestRow.__table__, ("repo", "number"), "pull_requests"),  # type: ignore[dict-item]
    Deployment: (DeploymentRow.__table__, ("source", "external_id"), "deployments"),  # type: ignore[dict-item]
    Incident: (IncidentRow.__table__, ("source", "external_id"), "incidents"),  # type: ignore[dict-item]
    PipelineRun: (PipelineRunRow.__table__, ("source", "external_id"), "pipeline_runs"),  # type: ignore[dict-item]
    RawPayload: (RawPayloadRow.__table__, ("source", "kind", "external_id"), "raw_payloads"),  # type: ignore[dict-item]
}

# Fields whose change alone is not a change of the data: re-fetching a payload keeps its first fetch time
# and URL (one object comes from several listings, e.g. a commit from its branch and from its pull
# request; keeping the first makes the stored row independent of where a crashed sync resumed).
_NOT_COMPARED: dict[type, tuple[str, ...]] = {RawPayload: ("fetched_at", "url")}


def _columns_of(record_type: type) -> tuple[str, ...]:
    """The fields of ``record_type`` in the order of its table's columns (so rows bind in statement order)."""
    names = {f.name for f in fields(record_type)}
    columns = tuple(column.name for column in RECORD_TABLES[record_type][0].columns if column.name in names)
    if set(columns) != names:  # pragma: no cover - a model out of step with its record
        raise ValueError(f"{record_type.__name__} fields without a column: {sorted(names - set(columns))}")
    return columns


_FIELD_NAMES: dict[type, tuple[str, ...]] = {record_type: _columns_of(record_type) for record_type in RECORD_TABLES}
_FIELD_VALUES: dict[type, Callable[[Any], tuple[Any, ...]]] = {
    record_type: attrgetter(*names) for record_type, names in _FIELD_NAMES.items()
}
_DEPLOYMENT_STATUS = _FIELD_NAMES[Deployment].index("status")


def record_columns(record_type: type) -> tuple[str, ...]:
    """The columns a record of ``record_type`` fills, in the order of :func:`record_values`."""
    return _FIELD_NAMES[record_type]


def record_values(record: Record) -> tuple[Any, ...]:
    """The column values of ``record`` in :func:`record_columns` order: its fields, an enum as its value.

    Records hold no nested dataclasses, so the fields are read directly (``dataclasses.asdict``
    would deep-copy every value). Container values are left as they are (tuples): JSON columns
    serialise tuples and lists alike.
    """
    values = _FIELD_VALUES[type(record)](record)
    if isinstance(record, Deployment):
        listed = list(values)
        listed[_DEPLOYMENT_STATUS] = record.status.value
        return tuple(listed)
    return values


def record_row(record: Record) -> dict[str, Any]:
    """The column values of ``record`` as a mapping (lists for tuples, enum values as strings)."""
    return {
        name: json_value(value) for name, value in zip(_FIELD_NAMES[type(record)], record_values(record), strict=True)
    }


@dataclass(slots=True)
class DriverRows:
    """Records converted for the driver: per record type its rows (in ``record_columns`` order), and the repos named.

    Sent between processes, rows of plain values (SQLite's: text, numbers, ``None``) travel as one
    ``marshal`` string, several times cheaper to write and read than pickling them value by value.
    """

    rows: dict[type, Sequence[Sequence[Any]]] = field(default_factory=dict)
    repos: set[str] = field(default_factory=set)

    def __getstate__(self) -> tuple[Any, ...]:
        types = list(self.rows)
        try:
            return types, marshal.dumps([self.rows[t] for t in types]), self.repos
        except ValueError:  # a value marshal cannot write (a datetime, a driver's JSON wrapper): pickle it
            return types, [self.rows[t] for t in types], self.repos

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        types, rows, self.repos = state
        values = marshal.loads(rows) if isinstance(rows, bytes) else rows  # noqa: S302 - bytes from our own worker
        self.rows = dict(zip(types, values, strict=True))


@dataclass(frozen=True, slots=True)
class DriverPlan:
    """How values of one record type (in :func:`record_columns` order) become driver values:
    (position, converter) pairs; where the repo is."""

    conversions: tuple[tuple[int, Callable[[Any], Any]], ...]
    repo_position: int | None


@lru_cache(maxsize=64)
def driver_plan(record_type: type, dialect: Dialect) -> DriverPlan:
    """The :class:`DriverPlan` of ``record_type`` on ``dialect`` (cached)."""
    columns = _FIELD_NAMES[record_type]
    converters = column_converters(RECORD_TABLES[record_type][0], columns, dialect)
    return DriverPlan(
        tuple((position, convert) for position, convert in enumerate(converters) if convert is not None),
        columns.index("repo") if "repo" in columns else None,
    )


def driver_rows(records: Iterable[Record], dialect: Dialect) -> DriverRows:
    """``records`` as rows of driver values for ``dialect``, grouped by record type in order of first appearance."""
    prepared = DriverRows()
    rows: dict[type, list[list[Any]]] = {}
    repos = prepared.repos
    plans: dict[type, DriverPlan] = {}
    for record in records:
        record_type: type = type(record)
        plan = plans.get(record_type)
        if plan is None:
            plan = plans[record_type] = driver_plan(record_type, dialect)
            rows[record_type] = []
        row = list(record_values(record))
        for position, convert in plan.conversions:
            row[position] = convert(row[position])
        rows[record_type].append(row)
        if plan.repo_position is not None and (repo := row[plan.repo_position]):
            repos.add(repo)
    prepared.rows.update(rows)
    return prepared


def write_driver_rows(connection: Connection, prepared: DriverRows) -> Counter[str]:
    """Upsert rows made by :func:`driver_rows` (repositories first); return how many of each kind were written."""
    counts: Counter[str] = Counter()
    if prepared.repos:
        upsert(connection, Repository.__table__, [{"name": r} for r in sorted(prepared.repos)], ("name",), ())  # type: ignore[arg-type]
    for record_type, rows in prepared.rows.items():
        table, key, label = RECORD_TABLES[record_type]
        columns = _FIELD_NAMES[record_type]
        compared = _compared_columns(record_type)
        counts[label] += upsert_driver_rows(connection, table, columns, rows, key, compared)
    return counts


def _compared_columns(record_type: type) -> Sequence[str]:
    key = RECORD_TABLES[record_type][1]
    skipped = _NOT_COMPARED.get(record_type, ())
    return [c for c in _FIELD_NAMES[record_type] if c not in key and c not in skipped]


def write_records(connection: Connection, records: Iterable[Record]) -> Counter[str]:
    """Upsert ``records`` grouped by type; return how many of each kind were written."""
    return write_driver_rows(connection, driver_rows(records, connection.dialect))


def write_cursors(connection: Connection, source: str, cursors: Mapping[CursorKey, str], now: datetime) -> None:
    """Store the cursors of ``source``; call in the same transaction as the data they describe."""
    rows = [
        {"source": source, "resource": key.resource, "partition": key.partition, "cursor": value, "updated_at": now}
        for key, value in cursors.items()
    ]
    upsert(connection, SyncState.__table__, rows, ("source", "resource", "partition"), ("cursor", "updated_at"))  # type: ignore[arg-type]


def read_cursors(connection: Connection, source: str) -> dict[CursorKey, str]:
    """Every stored cursor of ``source``."""
    table = SyncState.__table__
    result = connection.execute(
        table.select().where(table.c.source == source)  # type: ignore[attr-defined]
    )
    return {CursorKey(row.resource, row.partition): row.cursor for row in result}
