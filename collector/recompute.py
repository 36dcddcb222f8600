"""Recomputation: store → frames → metrics engine → derived link tables and a saved snapshot.

Everything the metrics depend on is re-derived from the stored events and the current config, so a
mapping change (a service moved to another team, a new path prefix) gives the same numbers as a
fresh sync would, without re-fetching anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, select

from collector.config.model import AppConfig
from collector.snapshot import Snapshot, save_snapshot
from collector.store.frames import (
    load_commits,
    load_deployments,
    load_incidents,
    load_pull_requests,
    services_frame,
)
from collector.store.models import (
    DeploymentChange,
    DeploymentFailure,
    DeploymentRow,
    IncidentDeployment,
    IncidentRow,
)
from connectors.records import utc_now
from metrics import Links, MetricInputs, MetricSettings, compute_report, derive_links
from metrics.settings import DEFAULT_REVERT_MESSAGE_PATTERNS

logger = logging.getLogger(__name__)


def metric_settings(config: AppConfig) -> MetricSettings:
    """The metrics engine's settings from the validated config."""
    metrics = config.metrics
    return MetricSettings(
        windows_days=tuple(int(window.total_seconds() // 86400) for window in metrics.windows),
        incident_link_window=metrics.incident_link_window,
        bot_author_patterns=config.bot_authors,
        hotfix_branch_prefixes=metrics.hotfix_branch_prefixes,
        hotfix_labels=metrics.hotfix_labels,
        hotfix_title_patterns=metrics.hotfix_title_patterns,
        revert_message_patterns=DEFAULT_REVERT_MESSAGE_PATTERNS + metrics.revert_message_patterns,
        default_production_environments=config.production_environments,
        band_table=metrics.band_table,
    )


def load_inputs(engine: Engine, config: AppConfig) -> MetricInputs:
    """The five input frames: stored events plus the configured services."""
    with engine.connect() as connection:
        return MetricInputs.of(
            deployments=load_deployments(connection),
            commits=load_commits(connection),
            pull_requests=load_pull_requests(connection),
            incidents=load_incidents(connection),
            services=services_frame(config),
        )


@dataclass(frozen=True, slots=True)
class Computation:
    """Inputs, settings and links of one computation, reusable for reports and explanations."""

    inputs: MetricInputs
    settings: MetricSettings
    links: Links


def compute(engine: Engine, config: AppConfig) -> Computation:
    """Load the store and derive every link (independent of the as-of instant)."""
    inputs = load_inputs(engine, config)
    settings = metric_settings(config)
    return Computation(inputs, settings, derive_links(inputs, settings))


def previous_rows(computation: Computation, as_of: datetime) -> list[dict[str, object]]:
    """Rows of each window just before the current one (as-of shifted back by the window length)."""
    rows: list[dict[str, object]] = []
    for days in computation.settings.windows_days:
        rows.extend(
            compute_report(
                computation.inputs,
                computation.settings,
                as_of - timedelta(days=days),
                links=computation.links,
                windows=[days],
            )
        )
    return rows


def save_links(connection: Connection, links: Links) -> None:
    """Replace the derived link tables with ``links`` (one transaction, via ``connection``)."""
    deployment_ids = _id_map(connection, DeploymentRow)
    incident_ids = _id_map(connection, IncidentRow)
    connection.execute(delete(DeploymentChange))
    connection.execute(delete(IncidentDeployment))
    connection.execute(delete(DeploymentFailure))
    changes = links.deployment_changes
    change_rows = [
        {"deployment_id": deployment_ids[key], "repo": repo, "sha": sha, "change_key": change or "", "method": method}
        for key, repo, sha, change, method in zip(
            changes["deployment_key"],
            changes["repo"],
            changes["sha"],
            changes["change_key"],
            changes["method"],
            strict=True,
        )
        if key in deployment_ids and isinstance(repo, str)
    ]
    if change_rows:
        connection.execute(DeploymentChange.__table__.insert(), change_rows)  # type: ignore[attr-defined]
    incident_rows = [
        {"incident_id": incident_ids[incident], "deployment_id": deployment_ids[deployment], "method": method}
        for incident, deployment, method in zip(
            links.incident_links["incident_key"],
            links.incident_links["deployment_key"],
            links.incident_links["method"],
            strict=True,
        )
        if incident in incident_ids and deployment in deployment_ids
    ]
    if incident_rows:
        connection.execute(IncidentDeployment.__table__.insert(), incident_rows)  # type: ignore[attr-defined]
    failures = links.failures.drop_duplicates(["deployment_key", "reason"])
    failure_rows = [
        {
            "deployment_id": deployment_ids[key],
            "reason": reason,
            "remediated_by_deployment_id": deployment_ids.get(remedy) if isinstance(remedy, str) else None,
        }
        for key, reason, remedy in zip(
            failures["deployment_key"], failures["reason"], failures["remediated_by"], strict=True
        )
        if key in deployment_ids
    ]
    if failure_rows:
        connection.execute(DeploymentFailure.__table__.insert(), failure_rows)  # type: ignore[attr-defined]


def _id_map(connection: Connection, model: type[DeploymentRow] | type[IncidentRow]) -> dict[str, int]:
    rows = connection.execute(select(model.source, model.external_id, model.id))
    return {f"{source}:{external_id}": row_id for source, external_id, row_id in rows}


def recompute(
    engine: Engine,
    config: AppConfig,
    *,
    as_of: datetime,
    clock: Callable[[], datetime] = utc_now,
) -> Snapshot:
    """Recompute every metric for ``as_of``, save the links and the snapshot, and return the snapshot."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    computation = compute(engine, config)
    current = compute_report(computation.inputs, computation.settings, as_of, links=computation.links)
    previous = previous_rows(computation, as_of)
    with engine.begin() as connection:
        save_links(connection, computation.links)
    snapshot = Snapshot(
        as_of=as_of,
        computed_at=clock(),
        config_hash=config.fingerprint(),
        band_table=computation.settings.band_table,
        current=tuple(current),
        previous=tuple(previous),
    )
    save_snapshot(engine, snapshot)
    logger.info("metrics recomputed as of %s: %d result rows", as_of.isoformat(), len(current))
    return snapshot
