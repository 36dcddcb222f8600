"""Reading the store into the pandas frames the metrics layer takes (see ``metrics`` input contract).

Timestamp columns come back as ``datetime64[…, UTC]``; list-valued JSON columns as tuples (``None``
kept where the source did not know, e.g. a deployment without an explicit commit list).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Text, cast, select

from collector.config.model import AppConfig
from collector.store.models import Base, CommitRow, DeploymentRow, IncidentRow, PullRequestRow

_JSON_CHUNK = 50_000

_TIME_COLUMNS = {
    "authored_at",
    "committed_at",
    "created_at",
    "first_commit_at",
    "first_review_at",
    "merged_at",
    "closed_at",
    "started_at",
    "finished_at",
    "acknowledged_at",
    "resolved_at",
}


def _json_tuples(texts: Sequence[str | None]) -> list[tuple[Any, ...] | None]:
    """Decode JSON list texts in a few ``json.loads`` calls (one per chunk), lists as tuples.

    A SQL NULL and a JSON ``null`` both give ``None``. One call per chunk instead of one per value
    removes most of the decoding cost of the JSON columns of a large table.
    """
    decoded: list[tuple[Any, ...] | None] = []
    for start in range(0, len(texts), _JSON_CHUNK):
        chunk = texts[start : start + _JSON_CHUNK]
        values = json.loads("[" + ",".join("null" if text is None else text for text in chunk) + "]")
        decoded.extend(tuple(value) if value is not None else None for value in values)
    return decoded


#: The columns read from each table: exactly what the metrics layer's input frames need (the benchmark's
#: raw-read ceiling selects the same).
READ_COLUMNS: dict[str, tuple[str, ...]] = {
    "deployments": (
        "source",
        "external_id",
        "service",
        "environment",
        "status",
        "sha",
        "repo",
        "started_at",
        "finished_at",
        "commits",
        "is_rollback",
    ),
    "commits": (
        "repo",
        "sha",
        "author",
        "author_email",
        "authored_at",
        "committed_at",
        "parents",
        "message",
        "paths",
    ),
    "pull_requests": (
        "repo",
        "number",
        "author",
        "title",
        "labels",
        "head_branch",
        "base_branch",
        "created_at",
        "first_commit_at",
        "first_review_at",
        "merged_at",
        "closed_at",
        "merge_sha",
        "commits",
    ),
    "incidents": (
        "source",
        "external_id",
        "service",
        "title",
        "severity",
        "created_at",
        "acknowledged_at",
        "resolved_at",
        "cause_deployment_id",
        "cause_sha",
    ),
}


def _frame(
    connection: Connection, model: type[Base], columns: Sequence[str], tuple_columns: Sequence[str]
) -> pd.DataFrame:
    # JSON columns are read as their text and decoded in bulk (see _json_tuples); rows as plain
    # tuples, since pandas probes each SQLAlchemy Row for attributes and every miss raises inside
    # SQLAlchemy's key fallback (a third of the load time of a large table).
    query = select(*(cast(getattr(model, c), Text) if c in tuple_columns else getattr(model, c) for c in columns))
    rows = [tuple(row) for row in connection.execute(query)]
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for column in tuple_columns:
        frame[column] = pd.Series(_json_tuples(frame[column].tolist()), index=frame.index, dtype=object)
    for column in columns:
        if column in _TIME_COLUMNS:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def load_deployments(connection: Connection) -> pd.DataFrame:
    """Every deployment, with ``deployment_key`` = ``source:external_id``."""
    columns = READ_COLUMNS["deployments"]
    frame = _frame(connection, DeploymentRow, columns, ["commits"])
    frame.insert(0, "deployment_key", frame["source"] + ":" + frame["external_id"])
    frame["is_rollback"] = frame["is_rollback"].astype(bool)
    return frame


def load_commits(connection: Connection) -> pd.DataFrame:
    """Every commit."""
    columns = READ_COLUMNS["commits"]
    return _frame(connection, CommitRow, columns, ["parents", "paths"])


def load_pull_requests(connection: Connection) -> pd.DataFrame:
    """Every pull/merge request."""
    columns = READ_COLUMNS["pull_requests"]
    return _frame(connection, PullRequestRow, columns, ["labels", "commits"])


def load_incidents(connection: Connection) -> pd.DataFrame:
    """Every incident, with ``incident_key`` = ``source:external_id``."""
    columns = READ_COLUMNS["incidents"]
    frame = _frame(connection, IncidentRow, columns, [])
    frame.insert(0, "incident_key", frame["source"] + ":" + frame["external_id"])
    return frame


def services_frame(config: AppConfig) -> pd.DataFrame:
    """The configured services: owner team, repositories, path prefixes, production environments."""
    rows = [
        {
            "service": service.name,
            "team": service.team,
            "repositories": tuple(service.repositories),
            "path_prefixes": tuple(service.path_prefixes),
            "production_environments": tuple(config.service_production_environments(service)),
        }
        for service in config.services
    ]
    return pd.DataFrame(rows, columns=["service", "team", "repositories", "path_prefixes", "production_environments"])
