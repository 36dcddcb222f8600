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

from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd
from sqlalchemy import Connection

from collector.config.model import AppConfig
from collector.store.column_reader import Column, ColumnKind, RowCondition, StringPool, read_columns
from metrics.inputs import COMMIT_COLUMNS, DEPLOYMENT_COLUMNS, INCIDENT_COLUMNS, PULL_REQUEST_COLUMNS

_TIME_COLUMNS = frozenset(
    {
        "authored_at",
        "created_at",
        "first_commit_at",
        "first_review_at",
        "merged_at",
        "started_at",
        "finished_at",
        "resolved_at",
    }
)
_LIST_COLUMNS = frozenset({"commits", "parents", "paths", "labels"})
_VALUE_COLUMNS = frozenset({"number", "is_rollback"})
#: columns holding commit shas (pooled together: a parent, a pull request's or a deployment's commit is
#: one object with the stored commit's sha)
_SHA_COLUMNS = frozenset({"sha", "merge_sha", "cause_sha", "parents", "commits"})


#: The columns read from each table: exactly what the metrics layer's input frames need (the columns of
#: :mod:`metrics.inputs` but the keys built here; the benchmark's raw-read ceiling selects the same).
#: Stored columns no metric reads (a commit's committer time and e-mail, a pull request's base branch
#: and close time, an incident's severity and acknowledgement) stay in the store and are not loaded.
READ_COLUMNS: dict[str, tuple[str, ...]] = {
    "deployments": tuple(c for c in DEPLOYMENT_COLUMNS if c != "deployment_key"),
    "commits": COMMIT_COLUMNS,
    "pull_requests": PULL_REQUEST_COLUMNS,
    "incidents": tuple(c for c in INCIDENT_COLUMNS if c != "incident_key"),
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
    connection: Connection,
    table: str,
    pool: StringPool | None,
    skipped: frozenset[str] = frozenset(),
    conditions: Mapping[str, RowCondition] | None = None,
) -> pd.DataFrame:
    given = conditions or {}
    columns = [replace(_column(name), read_when=given.get(name)) for name in READ_COLUMNS[table] if name not in skipped]
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


def load_commits(
    connection: Connection, pool: StringPool | None = None, *, paths: PathSelection | bool = True
) -> pd.DataFrame:
    """Every commit; strings shared through ``pool``.

    ``paths`` says whose ``paths`` are read (see :func:`path_selection`): ``True`` every commit's,
    ``False`` none (the column holds ``None``, unknown, everywhere), or a :class:`PathSelection`. A
    commit whose paths are not read holds ``None`` as well.
    """
    selection = paths if isinstance(paths, PathSelection) else PathSelection(read=paths)
    if not selection.read:
        return _frame(connection, "commits", pool, frozenset({"paths"}))
    conditions = {} if selection.condition is None else {"paths": selection.condition}
    return _frame(connection, "commits", pool, conditions=conditions)


def load_pull_requests(connection: Connection, pool: StringPool | None = None) -> pd.DataFrame:
    """Every pull/merge request; strings shared through ``pool``."""
    return _frame(connection, "pull_requests", pool)


def load_incidents(connection: Connection, pool: StringPool | None = None) -> pd.DataFrame:
    """Every incident, with ``incident_key`` = ``source:external_id``; strings shared through ``pool``."""
    frame = _frame(connection, "incidents", pool)
    frame.insert(0, "incident_key", frame["source"] + ":" + frame["external_id"])
    return frame


@dataclass(frozen=True, slots=True)
class PathSelection:
    """Which commits' ``paths`` the loader reads: none (``read`` false), every commit (``condition``
    ``None``), or the commits meeting ``condition``."""

    read: bool
    condition: RowCondition | None = None


#: beyond this many repository and service names the selection reads every commit's paths instead
#: (an SQL parameter list of reasonable size on both drivers)
MAX_SELECTION_NAMES = 900


def path_selection(config: AppConfig) -> PathSelection:
    """The commits whose paths a metric may look at, given the configured services.

    Only the graph walk of a service with path prefixes reads paths (``metrics.attribution``), and
    the walk stays inside the repository of the deployment's tip: the deployment's own ``repo`` when
    it names one, else one of the service's configured ``repositories``. So the paths needed are
    those of commits in a repository of a path-prefix service or in a repository named by a deployment
    of one. A path-prefix service without configured repositories may find its tip in any
    repository: then every commit's paths are read, as they are beyond ``MAX_SELECTION_NAMES`` names.
    """
    sliced = [service for service in config.services if service.path_prefixes]
    if not sliced:
        return PathSelection(read=False)
    if any(not service.repositories for service in sliced):
        return PathSelection(read=True)
    repositories = sorted({repository for service in sliced for repository in service.repositories})
    services = sorted({service.name for service in sliced})
    if len(repositories) + len(services) > MAX_SELECTION_NAMES:
        return PathSelection(read=True)
    in_repositories, in_services = ", ".join("?" * len(repositories)), ", ".join("?" * len(services))
    condition = RowCondition(  # only ``?`` markers are formatted in: the names are parameters
        f"repo IN ({in_repositories}) OR repo IN (SELECT repo FROM deployments WHERE service IN ({in_services}))",  # noqa: S608
        (*repositories, *services),
    )
    return PathSelection(read=True, condition=condition)


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
