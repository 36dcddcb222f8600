"""Reading the store into the pandas frames the metrics layer takes (see ``metrics`` input contract).

Timestamp columns come back as ``datetime64[…, UTC]``; list-valued JSON columns as tuples (``None``
kept where the source did not know, e.g. a deployment without an explicit commit list).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Select, select

from collector.config.model import AppConfig
from collector.store.models import CommitRow, DeploymentRow, IncidentRow, PullRequestRow

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


def _frame(
    connection: Connection, query: Select[Any], columns: Sequence[str], tuple_columns: Sequence[str]
) -> pd.DataFrame:
    # Plain tuples: pandas probes each SQLAlchemy Row for attributes, and every miss raises inside
    # SQLAlchemy's key fallback (a third of the load time of a large table).
    rows = [tuple(row) for row in connection.execute(query)]
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for column in tuple_columns:
        frame[column] = pd.Series(
            [tuple(value) if value is not None else None for value in frame[column]], index=frame.index, dtype=object
        )
    for column in columns:
        if column in _TIME_COLUMNS:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def load_deployments(connection: Connection) -> pd.DataFrame:
    """Every deployment, with ``deployment_key`` = ``source:external_id``."""
    columns = [
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
    ]
    frame = _frame(connection, select(*(getattr(DeploymentRow, c) for c in columns)), columns, ["commits"])
    frame.insert(0, "deployment_key", frame["source"] + ":" + frame["external_id"])
    frame["is_rollback"] = frame["is_rollback"].astype(bool)
    return frame


def load_commits(connection: Connection) -> pd.DataFrame:
    """Every commit."""
    columns = ["repo", "sha", "author", "author_email", "authored_at", "committed_at", "parents", "message", "paths"]
    return _frame(connection, select(*(getattr(CommitRow, c) for c in columns)), columns, ["parents", "paths"])


def load_pull_requests(connection: Connection) -> pd.DataFrame:
    """Every pull/merge request."""
    columns = [
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
    ]
    return _frame(connection, select(*(getattr(PullRequestRow, c) for c in columns)), columns, ["labels", "commits"])


def load_incidents(connection: Connection) -> pd.DataFrame:
    """Every incident, with ``incident_key`` = ``source:external_id``."""
    columns = [
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
    ]
    frame = _frame(connection, select(*(getattr(IncidentRow, c) for c in columns)), columns, [])
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
