"""The derived link tables saved by ``recompute`` hold exactly the computed links (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, select

from collector.config.model import AppConfig, ServiceConfig, TeamConfig
from collector.recompute import compute, save_links
from collector.store.models import (
    DeploymentChange,
    DeploymentFailure,
    DeploymentRow,
    IncidentDeployment,
    IncidentRow,
)
from collector.store.writer import write_records
from connectors.records import Commit, Deployment, DeploymentStatus, Incident, Record

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = AppConfig(
    teams=(TeamConfig(name="t"),), services=(ServiceConfig(name="shop", team="t", repositories=("acme/shop",)),)
)


def sha(n: int) -> str:
    return f"{n:040x}"


def _history() -> list[Record]:
    """Five commits in a line, three deployments (the second fails: an incident, then a rollback)."""
    commits = [
        Commit("git", "acme/shop", sha(n), T0 + timedelta(hours=n), parents=(sha(n - 1),) if n else ())
        for n in range(5)
    ]
    ok = DeploymentStatus.SUCCESS
    deployments = [
        Deployment("ci", "d-1", "shop", "production", ok, sha(1), T0 + timedelta(hours=1, minutes=30)),
        Deployment("ci", "d-2", "shop", "production", ok, sha(3), T0 + timedelta(hours=3, minutes=30)),
        Deployment("ci", "d-3", "shop", "production", ok, sha(1), T0 + timedelta(hours=5), is_rollback=True),
    ]
    incident = Incident("pd", "i-1", "shop", T0 + timedelta(hours=4), resolved_at=T0 + timedelta(hours=6))
    return [*commits, *deployments, incident]


def _stored(connection: Connection) -> dict[str, list[tuple[object, ...]]]:
    deployments = {
        row_id: key for row_id, key in connection.execute(select(DeploymentRow.id, DeploymentRow.external_id))
    }
    incidents = {row_id: key for row_id, key in connection.execute(select(IncidentRow.id, IncidentRow.external_id))}
    changes = connection.execute(
        select(
            DeploymentChange.deployment_id,
            DeploymentChange.repo,
            DeploymentChange.sha,
            DeploymentChange.change_key,
            DeploymentChange.method,
        )
    )
    links = connection.execute(
        select(IncidentDeployment.incident_id, IncidentDeployment.deployment_id, IncidentDeployment.method)
    )
    failures = connection.execute(
        select(DeploymentFailure.deployment_id, DeploymentFailure.reason, DeploymentFailure.remediated_by_deployment_id)
    )
    return {
        "changes": sorted((f"ci:{deployments[d]}", repo, s, key, how) for d, repo, s, key, how in changes),
        "incidents": sorted((f"pd:{incidents[i]}", f"ci:{deployments[d]}", how) for i, d, how in links),
        "failures": sorted(
            (f"ci:{deployments[d]}", reason, None if by is None else f"ci:{deployments[by]}")
            for d, reason, by in failures
        ),
    }


def test_saved_link_tables_equal_the_computed_links_and_a_second_save_replaces_them(engine: Engine) -> None:
    with engine.begin() as connection:
        write_records(connection, _history())
    links = compute(engine, CONFIG).links
    expected_changes = sorted(
        zip(
            links.deployment_changes["deployment_key"],
            links.deployment_changes["repo"],
            links.deployment_changes["sha"],
            links.deployment_changes["change_key"],
            links.deployment_changes["method"],
            strict=True,
        )
    )
    assert [row[2] for row in expected_changes] == [sha(2), sha(3)]  # d-2 shipped two commits
    for _ in range(2):
        with engine.begin() as connection:
            save_links(connection, links)
    with engine.connect() as connection:
        stored = _stored(connection)
        assert connection.scalar(select(func.count()).select_from(DeploymentChange)) == 2
    assert stored["changes"] == expected_changes
    assert stored["incidents"] == [("pd:i-1", "ci:d-2", links.incident_links["method"].iloc[0])]
    assert stored["failures"] == [("ci:d-2", "incident", None), ("ci:d-2", "rollback", "ci:d-3")]
