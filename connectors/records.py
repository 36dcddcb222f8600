"""Domain records: what every source emits and the store persists.

Every record is a frozen dataclass carrying the ``source`` that produced it and an ``external_id``
that is unique within that source, plus timezone-aware UTC timestamps. Records are plain data:
no I/O, no behaviour beyond validation of their own invariants.

Natural keys (the store upserts on these, so re-emitting a record never duplicates it):

- :class:`Commit` — ``(repo, sha)``
- :class:`PullRequest` — ``(repo, number)``
- :class:`Deployment`, :class:`Incident`, :class:`PipelineRun` — ``(source, external_id)``
- :class:`RawPayload` — ``(source, kind, external_id)``

An :class:`IncidentWithdrawal` (a :class:`DeploymentWithdrawal`) is not stored: it tells the store to delete
the incident (the deployment) of that key (see :mod:`collector.store.withdraw`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class DeploymentStatus(StrEnum):
    """Closed set of deployment outcomes. Only ``success`` deployments are DORA deployments."""

    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in_progress"


def ensure_utc(value: datetime | None, what: str) -> datetime | None:
    """Return ``value`` converted to UTC; raise ``ValueError`` for a naive datetime.

    A value already in ``datetime.UTC`` (what most sources give) is returned as it is, which is what
    ``astimezone(UTC)`` would return for it, without the call.
    """
    if value is None:
        return None
    tzinfo = value.tzinfo
    if tzinfo is UTC:
        return value
    if tzinfo is None or tzinfo.utcoffset(value) is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _utc_fields(obj: object, names: tuple[str, ...]) -> None:
    """Set each of the timestamp fields ``names`` of the frozen ``obj`` to its UTC value (only those that change)."""
    for name in names:
        value = getattr(obj, name)
        converted = ensure_utc(value, f"{type(obj).__name__}.{name}")
        if converted is not value:
            object.__setattr__(obj, name, converted)


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit of a repository. ``paths`` is ``None`` when the source does not know them."""

    source: str
    repo: str
    sha: str
    authored_at: datetime
    committed_at: datetime | None = None
    author: str | None = None
    author_email: str | None = None
    parents: tuple[str, ...] = ()
    message: str | None = None
    paths: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _utc_fields(self, ("authored_at", "committed_at"))

    @property
    def external_id(self) -> str:
        """``repo@sha``: unique across repositories."""
        return f"{self.repo}@{self.sha}"


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull or merge request. ``commits`` lists the shas of its commits, oldest first."""

    source: str
    repo: str
    number: int
    created_at: datetime
    author: str | None = None
    title: str | None = None
    labels: tuple[str, ...] = ()
    head_branch: str | None = None
    base_branch: str | None = None
    first_commit_at: datetime | None = None
    first_review_at: datetime | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merge_sha: str | None = None
    commits: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _utc_fields(self, ("created_at", "first_commit_at", "first_review_at", "merged_at", "closed_at"))

    @property
    def external_id(self) -> str:
        """``repo#number``."""
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment of a service to an environment.

    ``commits`` is the explicit list of shas the deployment shipped, or ``None`` when the source
    does not say (the metrics engine then walks the commit graph from the previous deployment).
    """

    source: str
    external_id: str
    service: str
    environment: str
    status: DeploymentStatus
    sha: str | None
    finished_at: datetime | None
    started_at: datetime | None = None
    repo: str | None = None
    commits: tuple[str, ...] | None = None
    is_rollback: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", DeploymentStatus(self.status))
        _utc_fields(self, ("finished_at", "started_at"))


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident of a service; ``service`` is ``None`` when the source could not map it."""

    source: str
    external_id: str
    service: str | None
    created_at: datetime
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    title: str | None = None
    severity: str | None = None
    cause_deployment_id: str | None = None
    cause_sha: str | None = None

    def __post_init__(self) -> None:
        _utc_fields(self, ("created_at", "resolved_at", "acknowledged_at"))


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """A CI/CD pipeline or workflow run, kept for CI health figures."""

    source: str
    external_id: str
    repo: str | None
    name: str
    status: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    branch: str | None = None
    sha: str | None = None
    duration_seconds: float | None = None

    def __post_init__(self) -> None:
        _utc_fields(self, ("created_at", "started_at", "finished_at"))


@dataclass(frozen=True, slots=True)
class RawPayload:
    """An API object exactly as received, kept so derived tables can be rebuilt without re-fetching.

    ``url`` must already have secrets redacted.
    """

    source: str
    kind: str
    external_id: str
    fetched_at: datetime
    body: Any
    url: str | None = None

    def __post_init__(self) -> None:
        _utc_fields(self, ("fetched_at",))


@dataclass(frozen=True, slots=True)
class IncidentWithdrawal:
    """An item a source read that, as read now, is not an incident, although an earlier read may have
    stored it as one (merged into or closed as a duplicate of another item, cancelled, declared not an
    incident, or no longer selected by the incident rules).

    The store deletes the incident ``(source, external_id)`` if it holds one, and the raw payloads of
    ``payload_kinds`` stored under ``external_id`` (so a rebuild from raw payloads agrees with the sync:
    a payload mapping to no incident is not kept). Withdrawing a key holding no row does nothing.
    """

    source: str
    external_id: str
    payload_kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeploymentWithdrawal:
    """A run a source read that, as read now, never ran (e.g. a step ``NOT_RUN``, a run ``stale``), so it
    is no deployment, although an earlier read may have stored it as one in progress.

    The store deletes the deployment ``(source, external_id)`` if it holds one (so the sync agrees with a
    rebuild, which maps the latest payload to no deployment). Withdrawing a key holding no row does nothing.
    """

    source: str
    external_id: str


Record = (
    Commit | PullRequest | Deployment | Incident | PipelineRun | RawPayload | IncidentWithdrawal | DeploymentWithdrawal
)


@dataclass(frozen=True, slots=True)
class CursorKey:
    """Identifies one incremental cursor of a source: a resource and a partition (repo, branch…)."""

    resource: str
    partition: str = ""


@dataclass(frozen=True, slots=True)
class Batch:
    """A unit of work from a source: its records and the cursors they advance.

    The store writes the records and the cursors in one transaction, so a crash can never leave a
    cursor ahead of the data it describes.
    """

    records: tuple[Record, ...] = ()
    cursors: dict[CursorKey, str] = field(default_factory=dict)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC. Only collectors call this, never metric functions."""
    return datetime.now(UTC)
