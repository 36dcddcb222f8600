"""Typed SQLAlchemy 2.0 models of the store.

Every table of collected data has a natural key with a unique constraint; writes are upserts on it
(see :mod:`collector.store.upsert`), so syncing or importing the same data twice changes nothing.
Timestamps are :class:`~collector.store.types.UTCDateTime`. The schema is created and changed only by
the Alembic migrations in ``collector/migrations``; keep the two in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from collector.store.types import PortableJSON, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention Alembic relies on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Team(Base):
    """A team, as declared in the config."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Service(Base):
    """A service: owned by one team, built from repositories, optionally a path-prefix slice of them."""

    __tablename__ = "services"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    path_prefixes: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    production_environments: Mapped[list[str]] = mapped_column(PortableJSON, default=list)


class Repository(Base):
    """A repository, named as its source names it (``owner/name``, a GitLab path, a local name)."""

    __tablename__ = "repositories"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(400), unique=True)


class ServiceRepository(Base):
    """Which repositories a service is built from."""

    __tablename__ = "service_repositories"
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)


class CommitRow(Base):
    """A commit; natural key ``(repo, sha)``."""

    __tablename__ = "commits"
    __table_args__ = (UniqueConstraint("repo", "sha"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    repo: Mapped[str] = mapped_column(String(400))
    sha: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(400))
    author_email: Mapped[str | None] = mapped_column(String(400))
    authored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parents: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    message: Mapped[str | None] = mapped_column(Text)
    paths: Mapped[list[str] | None] = mapped_column(PortableJSON)


class PullRequestRow(Base):
    """A pull or merge request; natural key ``(repo, number)``."""

    __tablename__ = "pull_requests"
    __table_args__ = (UniqueConstraint("repo", "number"), Index("ix_pull_requests_merge_sha", "merge_sha"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    repo: Mapped[str] = mapped_column(String(400))
    number: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(400))
    title: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    head_branch: Mapped[str | None] = mapped_column(String(400))
    base_branch: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_commit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merge_sha: Mapped[str | None] = mapped_column(String(64))
    commits: Mapped[list[str]] = mapped_column(PortableJSON, default=list)


class DeploymentRow(Base):
    """A deployment; natural key ``(source, external_id)``."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_deployments_service_environment_finished_at", "service", "environment", "finished_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(400))
    service: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    sha: Mapped[str | None] = mapped_column(String(64))
    repo: Mapped[str | None] = mapped_column(String(400))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    commits: Mapped[list[str] | None] = mapped_column(PortableJSON)
    is_rollback: Mapped[bool] = mapped_column(Boolean, default=False)


class IncidentRow(Base):
    """An incident; natural key ``(source, external_id)``. ``service`` is null when unmapped."""

    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(400))
    service: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cause_deployment_id: Mapped[str | None] = mapped_column(String(400))
    cause_sha: Mapped[str | None] = mapped_column(String(64))


class PipelineRunRow(Base):
    """A CI/CD run; natural key ``(source, external_id)``."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(400))
    repo: Mapped[str | None] = mapped_column(String(400))
    name: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(400))
    sha: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)


class DeploymentChange(Base):
    """Derived: a commit shipped by a deployment, and the method that attributed it."""

    __tablename__ = "deployment_changes"
    __table_args__ = (UniqueConstraint("deployment_id", "repo", "sha"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    repo: Mapped[str] = mapped_column(String(400))
    sha: Mapped[str] = mapped_column(String(64))
    change_key: Mapped[str] = mapped_column(String(500))
    method: Mapped[str] = mapped_column(String(64))


class IncidentDeployment(Base):
    """Derived: an incident blamed on a deployment, and the method of the link."""

    __tablename__ = "incident_deployments"
    __table_args__ = (UniqueConstraint("incident_id", "deployment_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(64))


class DeploymentFailure(Base):
    """Derived: why a deployment counts as failed (incident, rollback, revert) and what remediated it."""

    __tablename__ = "deployment_failures"
    __table_args__ = (UniqueConstraint("deployment_id", "reason"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(64))
    remediated_by_deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="SET NULL"))


class RawPayloadRow(Base):
    """An API object as received; natural key ``(source, kind, external_id)``."""

    __tablename__ = "raw_payloads"
    __table_args__ = (UniqueConstraint("source", "kind", "external_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(400))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(Text)
    body: Mapped[Any] = mapped_column(PortableJSON)


class SyncState(Base):
    """An incremental cursor of a source, written in the same transaction as the data it describes."""

    __tablename__ = "sync_state"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    resource: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[str] = mapped_column(String(500), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SyncRun(Base):
    """One run of one source: when, how it ended, what it stored."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_source_started_at", "source", "started_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32))
    counts: Mapped[dict[str, int]] = mapped_column(PortableJSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class MetricSnapshot(Base):
    """A computed metrics report, saved for the exporter to serve without recomputing."""

    __tablename__ = "metric_snapshots"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    config_hash: Mapped[str] = mapped_column(String(64))
    band_table: Mapped[str] = mapped_column(String(64))
    body: Mapped[Any] = mapped_column(PortableJSON)
