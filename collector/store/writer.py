"""Persisting domain records: each batch of a source is written, with its cursors, in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

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
from collector.store.upsert import upsert
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

_TABLES: dict[type, tuple[Table, tuple[str, ...], str]] = {
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

_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    record_type: tuple(f.name for f in fields(record_type)) for record_type in _TABLES
}


def record_row(record: Record) -> dict[str, Any]:
    """The column values of ``record`` (lists for tuples, enum values as strings).

    Records hold no nested dataclasses, so the fields are read directly: ``dataclasses.asdict``
    would deep-copy every value (datetimes included), which was most of the import's time.
    ``json_value`` already builds fresh lists and dicts for container values.
    """
    row = {name: json_value(getattr(record, name)) for name in _FIELD_NAMES[type(record)]}
    if isinstance(record, Deployment):
        row["status"] = record.status.value
    return row


def write_records(connection: Connection, records: Iterable[Record]) -> Counter[str]:
    """Upsert ``records`` grouped by type; return how many of each kind were written."""
    grouped: dict[type, list[dict[str, Any]]] = {}
    repos: set[str] = set()
    for record in records:
        grouped.setdefault(type(record), []).append(record_row(record))
        repo = getattr(record, "repo", None)
        if repo:
            repos.add(repo)
    counts: Counter[str] = Counter()
    if repos:
        upsert(connection, Repository.__table__, [{"name": r} for r in sorted(repos)], ("name",), ())  # type: ignore[arg-type]
    for record_type, rows in grouped.items():
        table, key, label = _TABLES[record_type]
        compared = [c for c in rows[0] if c not in key and c not in _NOT_COMPARED.get(record_type, ())]
        counts[label] += upsert(connection, table, rows, key, compared)
    return counts


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
