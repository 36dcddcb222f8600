"""Explain one figure: the deployments, changes or incidents behind it, with times and link methods.

:func:`explain` recomputes the figure for one scope and window with the same item tables and
summaries as :func:`metrics.report.compute_report`, so the value always equals the report's, and
returns every item with its contribution so the figure can be checked by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd

from metrics.deployment_frequency import deployment_items
from metrics.inputs import MetricInputs
from metrics.lead_time import lead_time_items
from metrics.links import Links, derive_links
from metrics.recovery_time import recovery_items
from metrics.report import require_aware, team_map
from metrics.rework_rate import rework_reasons
from metrics.settings import MetricSettings
from metrics.time_to_restore import restore_items
from metrics.windows import in_window

MetricName = Literal[
    "deployment_frequency", "lead_time", "change_failure_rate", "recovery_time", "time_to_restore", "rework_rate"
]
METRICS: tuple[str, ...] = (
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "recovery_time",
    "time_to_restore",
    "rework_rate",
)


@dataclass(frozen=True, slots=True)
class Explanation:
    """A figure and the items behind it.

    ``value`` is the figure (per day, seconds p50, or a 0–1 rate; ``None`` when undefined);
    ``items`` has one row per deployment, change or incident considered, with its times, a
    ``contribution`` column and the link method; ``notes`` name baselines and unknown shas.
    """

    metric: str
    team: str | None
    service: str | None
    environment: str | None
    window_days: int
    as_of: datetime
    value: float | None
    items: pd.DataFrame
    notes: tuple[str, ...]


def _scope(frame: pd.DataFrame, team: str | None, service: str | None, environment: str | None) -> pd.DataFrame:
    if service is not None:
        frame = frame[frame["service"] == service]
        if environment is not None and "environment" in frame.columns:
            frame = frame[frame["environment"] == environment]
    elif team is not None:
        frame = frame[frame["team"] == team]
    return frame


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.quantile(0.5)) if not values.empty else None


def _require_one_environment(links: Links, service: str) -> None:
    """Refuse to pool a service's production environments: the report has one row per service and
    environment, so a pooled figure would match none of them (time to restore is per service)."""
    table = links.deployments
    environments = sorted(set(table.loc[table["service"] == service, "environment"].dropna().astype(str)))
    if len(environments) > 1:
        raise ValueError(
            f"service {service!r} has production deployments in {', '.join(environments)}; the report has "
            "one row per environment: name the environment to explain"
        )


def explain(
    inputs: MetricInputs,
    settings: MetricSettings,
    as_of: datetime,
    *,
    metric: str,
    window_days: int,
    team: str | None = None,
    service: str | None = None,
    environment: str | None = None,
    links: Links | None = None,
) -> Explanation:
    """The items behind ``metric`` for a service (optionally one environment), a team, or — with
    neither — the organisation, over the window of ``window_days`` ending at ``as_of``.

    A service whose production deployments span several environments needs ``environment`` for every
    metric but time to restore (``ValueError`` otherwise), and ``environment`` needs ``service``: the
    explained figure is always one of the report's rows."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if environment is not None and service is None:
        raise ValueError("an environment narrows a service: give the service too")
    at = require_aware(as_of)
    links = links if links is not None else derive_links(inputs, settings)
    if service is not None and environment is None and metric != "time_to_restore":
        _require_one_environment(links, service)
    teams = team_map(inputs)
    notes: list[str] = []
    deployments = _scope(
        deployment_items(links).assign(team=lambda f: f["service"].map(teams)), team, service, environment
    )
    deployments = deployments[in_window(deployments["t"], at, window_days)].sort_values("finished_at")
    for row in deployments[deployments["attribution"].isin(["baseline", "unknown_sha"])].itertuples():
        if row.attribution == "baseline":
            notes.append(
                f"{row.deployment_key} is the baseline of {row.service}/{row.environment}: "
                "first deployment, no changes attributed"
            )
        else:
            notes.append(f"{row.deployment_key}: sha {row.sha} not in the commit table, changes unknown")
    base = ["deployment_key", "service", "environment", "sha", "finished_at"]
    value: float | None
    if metric == "deployment_frequency":
        items = deployments[[*base, "attribution", "changes"]].assign(contribution=1)
        value = len(items) / window_days
    elif metric in ("change_failure_rate", "rework_rate"):
        flag = "failed" if metric == "change_failure_rate" else "rework"
        items = deployments[[*base, "failed", "failure_reasons", "rework"]].copy()
        items["rework_reasons"] = rework_reasons(deployments)
        methods = links.failures.groupby("deployment_key")["method"].agg(lambda m: ",".join(sorted(set(m))))
        items["link_methods"] = items["deployment_key"].map(methods)
        linked = links.failures.dropna(subset=["incident_key"]).groupby("deployment_key")["incident_key"]
        items["incidents"] = items["deployment_key"].map(linked.agg(lambda k: ",".join(sorted(set(k)))))
        items["contribution"] = items[flag].astype(int)
        value = float(items[flag].sum()) / len(items) if len(items) else None
    elif metric == "lead_time":
        lead = _scope(lead_time_items(links).assign(team=lambda f: f["service"].map(teams)), team, service, environment)
        # each change with the commits it shipped in that deployment, and how they were attributed
        shipped = (
            links.deployment_changes.dropna(subset=["change_key"])
            .groupby(["deployment_key", "change_key"], sort=False)
            .agg(commits=("sha", tuple), method=("method", "first"))
            .reset_index()
        )
        lead = lead[in_window(lead["t"], at, window_days)].merge(
            shipped, on=["deployment_key", "change_key"], how="left"
        )
        items = lead[
            [
                "change_key",
                "deployment_key",
                "service",
                "environment",
                "author",
                "start",
                "deployed_at",
                "lead_time_seconds",
                "is_bot",
                "method",
                "commits",
            ]
        ].copy()
        items["contribution"] = "counted"
        items.loc[lead["excluded"].to_numpy(), "contribution"] = "excluded (negative)"
        items.loc[lead["is_bot"].to_numpy(), "contribution"] = "left out (bot)"
        value = _median(lead.loc[lead["counted"], "lead_time_seconds"])
    elif metric == "recovery_time":
        rec = recovery_items(links)
        items = rec[rec["deployment_key"].isin(deployments["deployment_key"])][
            [*base, "failure_reasons", "recovered_at", "recovery_seconds", "unrecovered"]
        ].copy()
        # the figure's own sets: seconds for a recovered failure, "excluded (negative)" for a recovery
        # before the deployment finished (left out of the quantiles), "unrecovered" for one still open
        contribution = items["recovery_seconds"].astype(object)
        contribution[(items["recovery_seconds"] < 0).to_numpy()] = "excluded (negative)"
        contribution[items["unrecovered"].to_numpy(dtype=bool)] = "unrecovered"
        items["contribution"] = contribution
        value = _median(items.loc[items["recovery_seconds"] >= 0, "recovery_seconds"])
    else:
        restore = _scope(
            restore_items(inputs.incidents).assign(team=lambda f: f["service"].map(teams)), team, service, None
        )
        restore = restore[in_window(restore["t"], at, window_days)]
        items = restore[["incident_key", "service", "created_at", "resolved_at", "restore_seconds"]].assign(
            contribution=lambda f: f["restore_seconds"]
        )
        value = _median(items["restore_seconds"])
    return Explanation(
        metric,
        team,
        service,
        environment,
        window_days,
        at.to_pydatetime(),
        value,
        items.reset_index(drop=True),
        tuple(notes),
    )
