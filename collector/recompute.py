"""Recomputation: store → frames → metrics engine → derived link tables and a saved snapshot.

Everything the metrics depend on is re-derived from the stored events and the current config, so a
mapping change (a service moved to another team, a new path prefix) gives the same numbers as a
fresh sync would, without re-fetching anything.

The snapshot also carries every configured goal (``goals:`` in the config) evaluated at ``as_of``
from the same computation (see :func:`goal_records`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select

from collector.config.model import AppConfig
from collector.pmo.goal_exporter import goal_record
from collector.pmo.goals import evaluate_goal, metric_value
from collector.pmo.portfolios import depth_of, portfolio_layers
from collector.pmo.settings import GoalConfig
from collector.snapshot import Snapshot, save_snapshot
from collector.store.bulk_insert import insert_driver_rows
from collector.store.column_reader import StringPool, paused_garbage_collection
from collector.store.frames import (
    load_commits,
    load_deployments,
    load_incidents,
    load_pull_requests,
    path_selection,
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
    """The five input frames: stored events plus the configured services.

    One read transaction; the four event frames share one string pool (a sha, a repository name, a
    path is one object in all of them), dropped once the frames are built. Commit paths are read only
    where a service with path prefixes may look at them (:func:`~collector.store.frames.path_selection`).
    Commit and pull request keys are unique by the store's constraints, so :meth:`MetricInputs.of` does
    not look for duplicates there.
    """
    pool = StringPool()
    with paused_garbage_collection(), engine.connect() as connection:
        frames = {
            "deployments": load_deployments(connection, pool),
            "commits": load_commits(connection, pool, paths=path_selection(config)),
            "pull_requests": load_pull_requests(connection, pool),
            "incidents": load_incidents(connection, pool),
        }
    del pool
    return MetricInputs.of(**frames, services=services_frame(config), unique_keys=("commits", "pull_requests"))


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
    """Replace the derived link tables with ``links`` (one transaction, via ``connection``).

    Rows are built and inserted in chunks (:func:`~collector.store.bulk_insert.insert_driver_rows`: the
    link tables hold integers and text only, handed to the driver as they are), so no list of every
    link row is held at once.
    """
    deployment_ids = _id_map(connection, DeploymentRow)
    incident_ids = _id_map(connection, IncidentRow)
    connection.execute(delete(DeploymentChange))
    connection.execute(delete(IncidentDeployment))
    connection.execute(delete(DeploymentFailure))
    changes = links.deployment_changes
    change_rows = (
        (deployment_ids[key], repo, sha, change or "", method)
        for key, repo, sha, change, method in zip(
            changes["deployment_key"],
            changes["repo"],
            changes["sha"],
            changes["change_key"],
            changes["method"],
            strict=True,
        )
        if key in deployment_ids and isinstance(repo, str)
    )
    insert_driver_rows(
        connection, _table(DeploymentChange), ("deployment_id", "repo", "sha", "change_key", "method"), change_rows
    )
    incident_rows = (
        (incident_ids[incident], deployment_ids[deployment], method)
        for incident, deployment, method in zip(
            links.incident_links["incident_key"],
            links.incident_links["deployment_key"],
            links.incident_links["method"],
            strict=True,
        )
        if incident in incident_ids and deployment in deployment_ids
    )
    incident_columns = ("incident_id", "deployment_id", "method")
    insert_driver_rows(connection, _table(IncidentDeployment), incident_columns, incident_rows)
    failures = links.failures.drop_duplicates(["deployment_key", "reason"])
    failure_rows = (
        (deployment_ids[key], reason, deployment_ids.get(remedy) if isinstance(remedy, str) else None)
        for key, reason, remedy in zip(
            failures["deployment_key"], failures["reason"], failures["remediated_by"], strict=True
        )
        if key in deployment_ids
    )
    insert_driver_rows(
        connection, _table(DeploymentFailure), ("deployment_id", "reason", "remediated_by_deployment_id"), failure_rows
    )


def _table(model: type[DeploymentChange] | type[IncidentDeployment] | type[DeploymentFailure]) -> Table:
    return model.__table__  # type: ignore[return-value]


def _id_map(connection: Connection, model: type[DeploymentRow] | type[IncidentRow]) -> dict[str, int]:
    rows = connection.execute(select(model.source, model.external_id, model.id))
    return {f"{source}:{external_id}": row_id for source, external_id, row_id in rows}


def goal_baseline_instant(goal: GoalConfig, as_of: datetime) -> datetime:
    """The instant a goal's baseline value is measured at (the end of its baseline window).

    With ``baseline: <date>``: the end of that day (midnight UTC after it), as in the PMO report.
    Without: **the as-of instant minus the goal's window** — the window just before the current one
    (a rolling baseline: progress against the previous window).
    """
    if goal.baseline is None:
        return as_of - goal.window
    day = goal.baseline
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def _team_rows(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(row["team"]): row for row in rows if row.get("scope") == "team" and row.get("team") is not None}


def goal_records(
    computation: Computation,
    config: AppConfig,
    as_of: datetime,
    current: Sequence[dict[str, Any]] = (),
    previous: Sequence[dict[str, Any]] = (),
) -> tuple[dict[str, Any], ...]:
    """Every configured goal evaluated at ``as_of``, as the JSON-able dicts kept in ``Snapshot.goals``.

    A goal's value at an instant is the team row of its team (or, for a portfolio, of the portfolio
    roll-up layer of its depth) over the goal's window ending at that instant; it is measured at
    :func:`goal_baseline_instant` and at ``as_of`` and evaluated by
    :func:`collector.pmo.goals.evaluate_goal`. ``current``/``previous`` are the rows already computed
    for ``as_of`` and for the previous windows: a team goal whose window is a configured one reads
    them; any other (layer, window, instant) is one engine run on ``computation`` shared by every
    goal that needs it (no second load of the store).
    """
    if not config.goals:
        return ()
    layers = portfolio_layers(computation.inputs, config.portfolios)
    known: dict[tuple[int | None, int, datetime], dict[str, dict[str, Any]]] = {}
    for days in computation.settings.windows_days:
        known[(None, days, as_of)] = _team_rows(row for row in current if row["window_days"] == days)
        at = as_of - timedelta(days=days)
        known[(None, days, at)] = _team_rows(row for row in previous if row["window_days"] == days)

    def value(goal: GoalConfig, at: datetime) -> float | None:
        layer = None if goal.team is not None else depth_of(goal.scope_name, config.portfolios)
        key = (layer, int(goal.window.total_seconds() // 86400), at)
        if key not in known:
            inputs = computation.inputs if layer is None else layers[layer]
            rows = compute_report(inputs, computation.settings, at, links=computation.links, windows=[key[1]])
            known[key] = _team_rows(rows)
        row = known[key].get(goal.scope_name)
        return None if row is None else metric_value(row, goal.metric)

    records = []
    for goal in config.goals:
        baseline_at = goal_baseline_instant(goal, as_of)
        status = evaluate_goal(
            goal,
            baseline_at=baseline_at,
            as_of=as_of,
            baseline_value=value(goal, baseline_at),
            current_value=value(goal, as_of),
            band_table=computation.settings.band_table,
        )
        records.append(goal_record(status))
    return tuple(records)


def recompute(
    engine: Engine,
    config: AppConfig,
    *,
    as_of: datetime,
    clock: Callable[[], datetime] = utc_now,
) -> Snapshot:
    """Recompute every metric and goal for ``as_of``, save the links and the snapshot, and return the snapshot."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    computation = compute(engine, config)
    current = compute_report(computation.inputs, computation.settings, as_of, links=computation.links)
    previous = previous_rows(computation, as_of)
    goals = goal_records(computation, config, as_of, current, previous)
    with engine.begin() as connection:
        save_links(connection, computation.links)
    snapshot = Snapshot(
        as_of=as_of,
        computed_at=clock(),
        config_hash=config.fingerprint(),
        band_table=computation.settings.band_table,
        current=tuple(current),
        previous=tuple(previous),
        goals=goals,
    )
    save_snapshot(engine, snapshot)
    logger.info("metrics recomputed as of %s: %d result rows, %d goals", as_of.isoformat(), len(current), len(goals))
    return snapshot
