"""Reading the store into the pandas frames the metrics layer takes (see ``metrics`` input contract).

Timestamp columns come back as ``datetime64[us, UTC]``; list-valued JSON columns as tuples (``None``
kept where the source did not know, e.g. a deployment without an explicit commit list); text columns as
pandas infers them from Python strings. Rows come in the order of a plain ``SELECT`` of each table.

The tables are read with the bare driver cursor in chunks (:mod:`collector.store.column_reader`), and
the strings of one load share one :class:`~collector.store.column_reader.StringPool`: a repository
name, an author, a path or a sha (a parent's or a pull request's commit is the sha of a stored commit)
is one object however many rows hold it.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection

from collector.config.model import AppConfig
from collector.store.column_reader import Column, ColumnKind, StringPool, read_columns

_TIME_COLUMNS = frozenset(
    {
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
)
_LIST_COLUMNS = frozenset({"commits", "parents", "paths", "labels"})
_VALUE_COLUMNS = frozenset({"number", "is_rollback"})
#: columns holding commit shas (pooled together: a parent, a pull request's or a deployment's commit is
#: one object with the stored commit's sha)
_SHA_COLUMNS = frozenset({"sha", "merge_sha", "cause_sha", "parents", "commits"})


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


def _kind(name: str) -> ColumnKind:
    if name in _TIME_COLUMNS:
        return ColumnKind.TIMESTAMP
    if name in _LIST_COLUMNS:
        return ColumnKind.STRING_LIST
    if name in _VALUE_COLUMNS:
        return ColumnKind.VALUE
    return ColumnKind.STRING


def _column(name: str) -> Column:
    if name in _SHA_COLUMNS:
        return Column(name, _kind(name), "sha")
    if name == "paths":  # paths repeat (the files a service's commits touch), apart from other text
        return Column(name, ColumnKind.STRING_LIST, "path", repeated_lists=True)
    return Column(name, _kind(name), "text", repeated_lists=name == "labels")


def _frame(
    connection: Connection, table: str, pool: StringPool | None, skipped: frozenset[str] = frozenset()
) -> pd.DataFrame:
    columns = [_column(name) for name in READ_COLUMNS[table] if name not in skipped]
    frame = read_columns(connection, table, columns, StringPool() if pool is None else pool)
    for name in skipped:  # not read: every value unknown
        frame.insert(READ_COLUMNS[table].index(name), name, pd.Series([None] * len(frame), dtype=object))
    return frame


def load_deployments(connection: Connection, pool: StringPool | None = None) -> pd.DataFrame:
    """Every deployment, with ``deployment_key`` = ``source:external_id``; strings shared through ``pool``."""
    frame = _frame(connection, "deployments", pool)
    frame.insert(0, "deployment_key", frame["source"] + ":" + frame["external_id"])
    frame["is_rollback"] = frame["is_rollback"].astype(bool)
    return frame


def load_commits(connection: Connection, pool: StringPool | None = None, *, paths: bool = True) -> pd.DataFrame:
    """Every commit; strings shared through ``pool``.

    With ``paths=False`` the ``paths`` column is not read and holds ``None`` (unknown) everywhere: the
    paths only matter to services with path prefixes (see :func:`paths_needed`).
    """
    return _frame(connection, "commits", pool, frozenset() if paths else frozenset({"paths"}))


def load_pull_requests(connection: Connection, pool: StringPool | None = None) -> pd.DataFrame:
    """Every pull/merge request; strings shared through ``pool``."""
    return _frame(connection, "pull_requests", pool)


def load_incidents(connection: Connection, pool: StringPool | None = None) -> pd.DataFrame:
    """Every incident, with ``incident_key`` = ``source:external_id``; strings shared through ``pool``."""
    frame = _frame(connection, "incidents", pool)
    frame.insert(0, "incident_key", frame["source"] + ":" + frame["external_id"])
    return frame


def paths_needed(config: AppConfig) -> bool:
    """Whether any configured service is a path-prefix slice of its repositories (commit paths are read)."""
    return any(service.path_prefixes for service in config.services)


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
