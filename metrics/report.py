"""The report: every metric for every scope and window, as rows of the public JSON contract.

:func:`compute_report` returns one dict per result row (see ``docs/report.schema.json``): a row per
service × production environment (``team`` = the service's team, ``None`` for a service absent from
the ``services`` frame), a row per team (``service`` and ``environment`` ``None``; pools the items of
all its services and environments) and the organisation row (``team``, ``service`` and
``environment`` ``None``; pools everything, including unmapped services and incidents without a
service), for each window. Pure: never reads the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from metrics.change_failure_rate import change_failure_rate, summarise_failures
from metrics.deployment_frequency import (
    deployment_frequency,
    deployment_items,
    failed_attempt_items,
    summarise_deployments,
    summarise_failed_attempts,
)
from metrics.inputs import MetricInputs
from metrics.lead_time import BREAKDOWN, lead_time_items, summarise_lead_time
from metrics.levels import load_band_table
from metrics.links import Links, derive_links
from metrics.recovery_time import recovery_items, summarise_recovery
from metrics.rework_rate import rework_rate, summarise_rework
from metrics.settings import MetricSettings
from metrics.time_to_restore import restore_items, summarise_restore
from metrics.windows import SCOPE_KINDS, aggregate, scope_keys


def require_aware(as_of: datetime) -> pd.Timestamp:
    """``as_of`` as a UTC timestamp; ``ValueError`` when it is naive."""
    if as_of.tzinfo is None or as_of.tzinfo.utcoffset(as_of) is None:
        raise ValueError(f"as_of must be timezone-aware, got naive {as_of.isoformat()}")
    return pd.Timestamp(as_of).tz_convert("UTC")


def team_map(inputs: MetricInputs) -> pd.Series:
    """``service → team`` from the services frame."""
    return inputs.services.drop_duplicates("service").set_index("service")["team"]


def scope_table(links: Links, inputs: MetricInputs, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every scope row: ``scope, team, service, environment, has_deployments``.

    Service rows are the (service, production environment) pairs that have at least one production
    deployment (any status) in the data — never an environment the service does not deploy to. A
    configured service with no production deployment at all gets one row with ``environment`` null
    and ``has_deployments`` false, so it stays visible (its levels are null: no data, not "low").
    ``has_deployments``: the scope made a DORA deployment (success, finished) by ``as_of``; only then
    is an empty window "low" ("when the scope deployed before"), otherwise its level is null.
    """
    teams_of = team_map(inputs)
    table = links.deployments
    seen = table[["service", "environment"]].drop_duplicates()
    done = table[table["is_deployment"] & (table["finished_at"] <= as_of)]
    deployed = pd.MultiIndex.from_frame(done[["service", "environment"]].drop_duplicates())
    services = seen.assign(
        team=seen["service"].map(teams_of),
        has_deployments=pd.MultiIndex.from_frame(seen[["service", "environment"]]).isin(deployed),
    )
    silent = sorted(set(inputs.services["service"]) - set(seen["service"]))
    never = pd.DataFrame(
        {"service": silent, "environment": None, "team": [teams_of.get(s) for s in silent], "has_deployments": False}
    )
    services = pd.concat([services, never], ignore_index=True).assign(scope="service")
    services = services.sort_values(["service", "environment"], na_position="last")
    deployed_teams = set(services.loc[services["has_deployments"], "team"].dropna())
    team_names = sorted(inputs.services["team"].dropna().unique())
    teams = pd.DataFrame({"team": team_names, "has_deployments": [t in deployed_teams for t in team_names]}).assign(
        scope="team", service=None, environment=None
    )
    org = pd.DataFrame(
        {
            "scope": ["organisation"],
            "team": [None],
            "service": [None],
            "environment": [None],
            "has_deployments": [not done.empty],
        }
    )
    columns = ["scope", "team", "service", "environment", "has_deployments"]
    return pd.concat([services, teams, org], ignore_index=True)[columns]


def metric_tables(
    links: Links, inputs: MetricInputs, settings: MetricSettings, as_of: pd.Timestamp, windows: Sequence[int]
) -> list[tuple[dict[str, pd.DataFrame], tuple[str, ...]]]:
    """Aggregated frames of every metric: ``(per scope kind frame, service keys)`` pairs."""
    teams = team_map(inputs)
    deployments = deployment_items(links).assign(team=lambda f: f["service"].map(teams))
    attempts = failed_attempt_items(links).assign(team=lambda f: f["service"].map(teams))
    lead = lead_time_items(links).assign(team=lambda f: f["service"].map(teams))
    recovery = recovery_items(links).assign(team=lambda f: f["service"].map(teams))
    restore = restore_items(inputs.incidents).assign(team=lambda f: f["service"].map(teams))
    svc_env, svc = ("service", "environment"), ("service",)
    qs = settings.quantiles
    return [
        (aggregate(deployments, as_of, windows, summarise_deployments), svc_env),
        (aggregate(deployments, as_of, windows, summarise_failures), svc_env),
        (aggregate(deployments, as_of, windows, summarise_rework), svc_env),
        (aggregate(attempts, as_of, windows, summarise_failed_attempts), svc_env),
        (aggregate(lead, as_of, windows, lambda f, k: summarise_lead_time(f, k, qs)), svc_env),
        (aggregate(recovery, as_of, windows, summarise_recovery), svc_env),
        (aggregate(restore, as_of, windows, summarise_restore, service_keys=svc), svc),
    ]


def result_frame(
    links: Links, inputs: MetricInputs, settings: MetricSettings, as_of: pd.Timestamp, windows: Sequence[int]
) -> pd.DataFrame:
    """One flat row per scope × window with every aggregated column (missing groups → NaN)."""
    scopes = scope_table(links, inputs, as_of)
    tables = metric_tables(links, inputs, settings, as_of, windows)
    parts = []
    for kind in SCOPE_KINDS:
        base = scopes[scopes["scope"] == kind].merge(pd.DataFrame({"window_days": list(windows)}), how="cross")
        for per_kind, service_keys in tables:
            frame = per_kind[kind]
            if frame.empty:
                continue
            on = [*scope_keys(kind, service_keys), "window_days"]
            base = base.merge(frame, on=on, how="left", suffixes=("", "_dup"))
        parts.append(base)
    return pd.concat(parts, ignore_index=True)


def compute_report(
    inputs: MetricInputs,
    settings: MetricSettings,
    as_of: datetime,
    *,
    links: Links | None = None,
    teams: Iterable[str] | None = None,
    services: Iterable[str] | None = None,
    windows: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """Every result row of the JSON contract for ``as_of`` (tz-aware; ``ValueError`` otherwise).

    ``teams`` keeps the rows of those teams (team rows and their service rows), ``services`` the
    service rows of those services; the organisation row is kept only without a filter. ``windows``
    overrides ``settings.windows_days``. ``links`` may be passed when already derived.
    """
    at = require_aware(as_of)
    chosen = tuple(int(w) for w in (windows if windows is not None else settings.windows_days))
    links = links if links is not None else derive_links(inputs, settings)
    frame = result_frame(links, inputs, settings, at, chosen)
    if teams is not None or services is not None:
        keep = pd.Series(False, index=frame.index)
        if teams is not None:
            keep |= frame["team"].isin(list(teams)) & frame["scope"].isin(["team", "service"])
        if services is not None:
            keep |= frame["service"].isin(list(services)) & frame["scope"].eq("service")
        frame = frame[keep]
    return [to_result({str(k): v for k, v in row.items()}, settings) for row in frame.to_dict("records")]


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


def _count(value: Any) -> int:
    number = _num(value)
    return 0 if number is None else int(number)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def to_result(row: dict[str, Any], settings: MetricSettings) -> dict[str, Any]:
    """One flat result row → the JSON contract dict (durations in seconds, rates 0–1, ``None`` if undefined)."""
    bands = load_band_table(settings.band_table)
    days = int(row["window_days"])
    deployments = _count(row.get("deployments"))
    failed = _count(row.get("failed_deployments"))
    rework = _count(row.get("rework_deployments"))
    lead: dict[str, float | int | None] = {"count": _count(row.get("lead_count"))}
    lead |= {f"p{round(q * 100)}": _num(row.get(f"lead_p{round(q * 100)}")) for q in settings.quantiles}
    lead |= {"excluded": _count(row.get("lead_excluded")), "bots": _count(row.get("lead_bots"))}
    recovery = {
        "count": _count(row.get("recovery_count")),
        "p50": _num(row.get("recovery_p50")),
        "p90": _num(row.get("recovery_p90")),
        "unrecovered": _count(row.get("recovery_unrecovered")),
        "excluded": _count(row.get("recovery_excluded")),
    }
    restore = {
        "count": _count(row.get("restore_count")),
        "p50": _num(row.get("restore_p50")),
        "p90": _num(row.get("restore_p90")),
    }
    frequency = deployment_frequency(deployments, days)
    cfr = change_failure_rate(failed, deployments)
    return {
        "scope": row["scope"],
        "team": _text(row.get("team")),
        "service": _text(row.get("service")),
        "environment": _text(row.get("environment")),
        "window_days": days,
        "deployments": deployments,
        "failed_attempts": _count(row.get("failed_attempts")),
        "deployment_frequency_per_day": frequency,
        "lead_time_seconds": lead,
        "lead_time_breakdown_seconds": {name: _num(row.get(f"breakdown_{name}")) for name, _, _ in BREAKDOWN},
        "change_failure_rate": cfr,
        "failed_deployments": failed,
        "recovery_time_seconds": recovery,
        "time_to_restore_seconds": restore,
        "rework_rate": rework_rate(rework, deployments),
        "rework_deployments": rework,
        "unknown_sha_deployments": _count(row.get("unknown_sha_deployments")),
        "levels": {
            # no production deployment in the data at all: no level (no data), not "low"
            "deployment_frequency": bands.level("deployment_frequency", frequency)
            if row.get("has_deployments", True)
            else None,
            "lead_time": bands.level("lead_time", lead.get("p50")),
            "change_failure_rate": bands.level("change_failure_rate", cfr),
            "recovery_time": bands.level("recovery_time", recovery["p50"]),
        },
    }


def report_document(results: list[dict[str, Any]], as_of: datetime, settings: MetricSettings) -> dict[str, Any]:
    """The full JSON document: ``{"as_of", "band_table", "config_hash", "results"}``."""
    at = require_aware(as_of)
    return {
        "as_of": at.isoformat().replace("+00:00", "Z"),
        "band_table": settings.band_table,
        "config_hash": settings.config_hash(),
        "results": results,
    }
