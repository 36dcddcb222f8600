"""Derived links, computed once and independent of the as-of instant.

:func:`derive_links` turns the input frames into the tables every metric aggregates: which
deployments are production deployments, which changes each shipped, which incidents each caused,
which failed and how they recovered, and which were rework. The collector may store these tables;
:func:`metrics.report.compute_report` windows and aggregates them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from metrics.attribution import ServiceScope, attribute_commits
from metrics.changes import build_changes, pull_request_changes, revert_targets
from metrics.commit_graph import CommitGraph
from metrics.failures import FAILURE_COLUMNS, detect_rollbacks, link_incidents, revert_failures
from metrics.inputs import MetricInputs
from metrics.settings import MetricSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Links:
    """Every derived table (see ``docs/metrics.md`` for the columns).

    - ``deployments``: one row per production deployment (every status) with its attribution,
      failure, recovery and rework facts; ``is_deployment`` marks the DORA deployments.
    - ``deployment_changes``: ``deployment_key, service, environment, repo, sha, change_key, method``,
      one row per commit a deployment shipped (a commit counts once per service, at its first
      deployment; ``change_key`` is ``None`` for an unknown sha).
    - ``change_deployments``: ``service, change_key, deployment_key``: where each change counts.
    - ``changes``: one row per deployed change (start, author, flags, PR times).
    - ``incident_links``: ``incident_key, deployment_key, method``.
    - ``failures``: ``deployment_key, reason, method, incident_key, remediated_by``.
    - ``reverts``: ``revert_change_key, reverted_change_key, how``.
    """

    deployments: pd.DataFrame
    deployment_changes: pd.DataFrame
    change_deployments: pd.DataFrame
    changes: pd.DataFrame
    incident_links: pd.DataFrame
    failures: pd.DataFrame
    reverts: pd.DataFrame


def production_deployments(inputs: MetricInputs, settings: MetricSettings) -> pd.DataFrame:
    """Deployments (every status) to an environment counted as production for their service.

    A service listed in ``services`` uses its ``production_environments``; any other service uses
    ``settings.default_production_environments``. Environment names are compared case-insensitively
    (``Production``, as GitHub shows it, is ``production``); the deployments keep their own spelling.
    """
    services = inputs.services
    pairs = services[["service", "production_environments"]].explode("production_environments").dropna()
    pairs = pd.DataFrame(
        {"service": pairs["service"], "_environment": pairs["production_environments"].astype(str).str.casefold()}
    ).assign(_prod=True)
    deployments = inputs.deployments.assign(_environment=inputs.deployments["environment"].astype(str).str.casefold())
    deployments = deployments.merge(pairs.drop_duplicates(), on=["service", "_environment"], how="left")
    configured = deployments["service"].isin(services["service"])
    defaults = {str(environment).casefold() for environment in settings.default_production_environments}
    default = deployments["_environment"].isin(defaults) & deployments["environment"].notna()
    keep = deployments["_prod"].eq(True) & deployments["environment"].notna() | (~configured & default)
    return deployments[keep].drop(columns=["_prod", "_environment"]).reset_index(drop=True)


def _scopes(services: pd.DataFrame) -> dict[str, ServiceScope]:
    return {
        str(service): ServiceScope(tuple(repositories or ()), tuple(prefixes or ()))
        for service, repositories, prefixes in zip(
            services["service"], services["repositories"], services["path_prefixes"], strict=True
        )
    }


def derive_links(inputs: MetricInputs, settings: MetricSettings) -> Links:
    """Compute every link once (see :class:`Links`); pure and independent of the as-of instant."""
    prod = production_deployments(inputs, settings)
    prod["is_deployment"] = prod["status"].eq("success") & prod["finished_at"].notna()
    tie = ["started_at", "deployment_key"]
    dora = prod[prod["is_deployment"]]
    by_service = dora.sort_values(["service", "finished_at", *tie], kind="stable").reset_index(drop=True)
    by_env = dora.sort_values(["service", "environment", "finished_at", *tie], kind="stable").reset_index(drop=True)

    graph = CommitGraph(inputs.commits, pull_request_changes(inputs.pull_requests))
    attributed = attribute_commits(by_service, graph, _scopes(inputs.services))
    where = by_service.set_index("deployment_key")
    deployment_changes = attributed.links.assign(
        service=lambda f: f["deployment_key"].map(where["service"]),
        environment=lambda f: f["deployment_key"].map(where["environment"]),
    )
    change_deployments = attributed.change_deployments
    changes = build_changes(deployment_changes, inputs.commits, inputs.pull_requests, graph, settings)
    reverts = revert_targets(deployment_changes, inputs.commits, inputs.pull_requests, changes, graph, settings)
    del graph  # its indexes are the largest temporaries (hundreds of MB at a million commits)
    changes["is_revert"] = changes["is_revert"] | changes["change_key"].isin(reverts["revert_change_key"])

    causes = set(inputs.incidents["cause_sha"].dropna().astype(str).str.lower())
    shipped = pd.concat(
        [
            deployment_changes.loc[deployment_changes["sha"].str.lower().isin(causes), ["deployment_key", "sha"]],
            by_service[["deployment_key", "sha"]].dropna(),
        ],
        ignore_index=True,
    ).merge(by_service[["deployment_key", "service", "finished_at"]], on="deployment_key")
    shipped["sha"] = shipped["sha"].astype(str).str.lower()
    incident_links = link_incidents(
        inputs.incidents, by_service, shipped.drop_duplicates(), settings, attempts=inputs.deployments
    )
    rollbacks, rollback_failures = detect_rollbacks(by_env)
    incident_failures = pd.DataFrame(
        {
            "deployment_key": incident_links["deployment_key"],
            "reason": "incident",
            "method": incident_links["method"],
            "incident_key": incident_links["incident_key"],
            "remediated_by": None,
        },
        columns=list(FAILURE_COLUMNS),
    )
    failures = pd.concat(
        [
            f
            for f in (
                incident_failures,
                rollback_failures,
                revert_failures(reverts, attributed.environment_shipments, by_service),
            )
            if not f.empty
        ]
        or [incident_failures],
        ignore_index=True,
    )
    table = _deployment_table(
        prod,
        by_service,
        attributed.attribution,
        deployment_changes,
        change_deployments,
        attributed.environment_shipments,
        changes,
        rollbacks,
        failures,
        inputs,
    )
    logger.debug("derived links: %d production deployments, %d changes", len(table), len(changes))
    return Links(table, deployment_changes, change_deployments, changes, incident_links, failures, reverts)


def _deployment_table(
    prod: pd.DataFrame,
    dora: pd.DataFrame,
    attribution: pd.DataFrame,
    deployment_changes: pd.DataFrame,
    change_deployments: pd.DataFrame,
    shipments: pd.DataFrame,
    changes: pd.DataFrame,
    rollbacks: pd.DataFrame,
    failures: pd.DataFrame,
    inputs: MetricInputs,
) -> pd.DataFrame:
    """One row per production deployment with its changes, flags, failure, recovery and rework.

    ``changes`` counts the changes placed at the deployment (once per service, as lead time);
    ``ships_revert`` / ``ships_hotfix`` look at every change the deployment brought to its own
    environment (``shipments``), so a revert reaching a second production environment is rework there too.
    """
    table = prod.drop(columns=["commits"]).merge(attribution, on="deployment_key", how="left")
    unknown = deployment_changes[deployment_changes["change_key"].isna()].groupby("deployment_key").size()
    table["unknown_shas"] = table["deployment_key"].map(unknown).fillna(0).astype(int) + table["attribution"].eq(
        "unknown_sha"
    ).astype(int)
    placed = change_deployments.groupby("deployment_key").size()
    table["changes"] = table["deployment_key"].map(placed).fillna(0).astype(int)
    per_change = shipments.merge(changes[["change_key", "is_hotfix", "is_revert"]], on="change_key")
    table["is_rollback"] = table["is_rollback"].eq(True) | table["deployment_key"].isin(rollbacks["deployment_key"])
    table["restores"] = table["deployment_key"].map(rollbacks.set_index("deployment_key")["restores"])
    table["ships_revert"] = table["deployment_key"].isin(per_change.loc[per_change["is_revert"], "deployment_key"])
    table["ships_hotfix"] = table["deployment_key"].isin(per_change.loc[per_change["is_hotfix"], "deployment_key"])
    table["failed"] = table["deployment_key"].isin(failures["deployment_key"]) & table["is_deployment"]
    table["failure_reasons"] = table["deployment_key"].map(_failure_reasons(failures))

    incidents = failures[failures["reason"] == "incident"].merge(
        inputs.incidents[["incident_key", "resolved_at"]], on="incident_key"
    )
    resolved = incidents.groupby("deployment_key")["resolved_at"].max()
    fixes = failures[failures["remediated_by"].notna()].merge(
        dora[["deployment_key", "finished_at"]].rename(
            columns={"deployment_key": "remediated_by", "finished_at": "fixed_at"}
        ),
        on="remediated_by",
    )
    remediated = fixes.groupby("deployment_key")["fixed_at"].min()
    has_incident = table["deployment_key"].isin(incidents["deployment_key"])
    table["unrecovered"] = table["failed"] & table["deployment_key"].isin(_with_open_incident(incidents))
    by_incident = _lookup(table["deployment_key"], resolved.astype("datetime64[us, UTC]"))
    by_fix = _lookup(table["deployment_key"], remediated.astype("datetime64[us, UTC]"))
    recovered = by_incident.where(has_incident, by_fix)
    table["recovered_at"] = recovered.where(table["failed"] & ~table["unrecovered"])
    table["recovery_seconds"] = (table["recovered_at"] - table["finished_at"]).dt.total_seconds()

    table["after_failure"] = _first_after_failure(table)
    table["rework"] = table["is_deployment"] & (
        table["is_rollback"] | table["ships_revert"] | table["ships_hotfix"] | table["after_failure"]
    )
    return table.reset_index(drop=True)


def _failure_reasons(failures: pd.DataFrame) -> pd.Series:
    """Per failed deployment, its distinct failure reasons sorted and joined by commas."""
    distinct = failures[["deployment_key", "reason"]].drop_duplicates().sort_values(["deployment_key", "reason"])
    # A vectorised string sum per group (",a,b" → "a,b") instead of a Python join per group.
    return ("," + distinct["reason"]).groupby(distinct["deployment_key"]).sum().str[1:]


def _with_open_incident(incidents: pd.DataFrame) -> pd.Index:
    """The deployments with at least one linked incident still open (``resolved_at`` null).

    A failed deployment is unrecovered exactly when it is in this set; a failure without a linked
    incident (a rollback or a revert) is recovered by its remediating deployment instead.
    """
    return pd.Index(incidents.loc[incidents["resolved_at"].isna(), "deployment_key"].unique())


def _lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """``values`` looked up by ``keys`` (missing → null), aligned on the index of ``keys``."""
    return pd.Series(values.reindex(keys.to_numpy()).to_numpy(), index=keys.index, dtype=values.dtype)


def _first_after_failure(table: pd.DataFrame) -> pd.Series:
    """Whether a deployment is the first of its service/environment after a failed deployment and
    no later than that failure's recovery (any time, while unrecovered).

    "After" is the documented order of a service/environment (``finished_at``, then ``started_at``,
    then key), so a deployment finishing in the same instant as the failure but ordered after it is
    its next deployment, as for the graph walk and rollback detection.
    """
    dora = table[table["is_deployment"]]
    if not dora["failed"].any():
        return pd.Series(False, index=table.index)
    scope = ["service", "environment"]
    ordered = dora.sort_values([*scope, "finished_at", "started_at", "deployment_key"], kind="stable")
    same_scope = ordered[scope].eq(ordered[scope].shift(-1)).all(axis=1)
    next_key = ordered["deployment_key"].shift(-1).where(same_scope)
    next_at = ordered["finished_at"].shift(-1).where(same_scope)
    before = ordered["unrecovered"] | (next_at <= ordered["recovered_at"])
    hits = next_key[ordered["failed"] & next_key.notna() & before]
    return table["deployment_key"].isin(hits)
