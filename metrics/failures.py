"""Failed deployments: incident links, rollbacks and reverts, each link keeping its method.

Definitions (see ``docs/metrics.md``), over successful production deployments only:

- **Incident → deployment**, first rule that yields a link wins:
  ``explicit_deployment_id`` — the incident's ``cause_deployment_id`` equals a deployment's
  ``external_id`` (any source); ``explicit_sha`` — its ``cause_sha`` is a sha a deployment shipped
  (an attributed commit or the deployment's own sha), the earliest such deployment per service;
  ``time_window`` — the latest deployment of the incident's service (any production environment)
  that finished strictly before the incident was created and at most ``incident_link_window``
  before. An incident with a service is never linked to a deployment of another service; one
  without a service is linked only explicitly.
- **Rollback**: deployment *k* of a service/environment ships the sha of an earlier deployment *j*
  while deployment *k−1* shipped another sha (or *k* is marked ``is_rollback``). *j* is the latest
  earlier deployment with that sha; every deployment strictly between *j* and *k* failed, remediated
  by *k*. A marked rollback whose sha was never deployed before fails deployment *k−1*.
- **Revert**: a deployed change reverts a change shipped by an earlier deployment of the same
  service; that deployment failed, remediated by the first deployment of the service shipping the
  revert after it. "Shipped" is per production environment (the first deployment of each
  service/environment reaching the change), not the once-per-service placement of lead time, so the
  same reverted change fails its deployment in each environment it reached. A deployment whose
  environment got the revert in that same deployment (or earlier) is not failed by it. The
  remediating deployment is the first later one shipping the revert in the failed deployment's own
  environment, else the first in another environment of the service.
"""

from __future__ import annotations

import pandas as pd

from metrics.settings import MetricSettings

FAILURE_COLUMNS: tuple[str, ...] = ("deployment_key", "reason", "method", "incident_key", "remediated_by")


def link_incidents(
    incidents: pd.DataFrame,
    deployments: pd.DataFrame,
    shipped: pd.DataFrame,
    settings: MetricSettings,
    attempts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``incident_key, deployment_key, method`` for every incident linked to a deployment.

    ``deployments``: successful production deployments (``deployment_key, external_id, service,
    finished_at``, ``started_at``); ``shipped``: ``deployment_key, service, sha, finished_at`` of every
    sha each deployment shipped; ``attempts``: every stored deployment (``external_id, service``), any
    status or environment. An incident whose ``cause_deployment_id`` names one of them that is not a
    successful production deployment (a failed attempt, a staging deployment) keeps that stated cause:
    it is linked to no deployment, and no other is blamed for it by sha or by time.
    """
    parts: list[pd.DataFrame] = []
    inc = incidents[["incident_key", "service", "created_at", "cause_deployment_id", "cause_sha"]]
    named = inc[inc["cause_deployment_id"].notna()]
    named = named.assign(cause_deployment_id=named["cause_deployment_id"].astype(str))
    by_id = _same_service(
        named.merge(
            deployments[["deployment_key", "external_id", "service"]]
            .rename(columns={"service": "dep_service"})
            .assign(external_id=lambda f: f["external_id"].astype(str)),
            left_on="cause_deployment_id",
            right_on="external_id",
        )
    )
    parts.append(by_id[["incident_key", "deployment_key"]].assign(method="explicit_deployment_id"))
    linked = set(by_id["incident_key"])
    if attempts is not None and not named.empty:
        stated = _same_service(
            named.merge(
                attempts[["external_id", "service"]]
                .rename(columns={"service": "dep_service"})
                .assign(external_id=lambda f: f["external_id"].astype(str)),
                left_on="cause_deployment_id",
                right_on="external_id",
            )
        )
        linked |= set(stated["incident_key"])  # a stated cause that is not a DORA deployment: no link

    rest = inc[~inc["incident_key"].isin(linked) & inc["cause_sha"].notna()]
    by_sha = _same_service(
        rest.assign(cause_sha=rest["cause_sha"].astype(str).str.lower()).merge(
            shipped.rename(columns={"service": "dep_service"}), left_on="cause_sha", right_on="sha"
        )
    )
    by_sha = by_sha.sort_values(["finished_at", "deployment_key"]).drop_duplicates(
        ["incident_key", "dep_service"], keep="first"
    )
    parts.append(by_sha[["incident_key", "deployment_key"]].assign(method="explicit_sha"))
    linked |= set(by_sha["incident_key"])

    rest = inc[~inc["incident_key"].isin(linked) & inc["service"].notna() & inc["created_at"].notna()]
    candidates = deployments[deployments["finished_at"].notna()]
    if not rest.empty and not candidates.empty:
        # among deployments finishing in the same instant (several production environments) the latest
        # in the documented order (finished_at, started_at, key) is the one blamed: merge_asof takes the
        # last of equal keys
        ordered = candidates.sort_values(["finished_at", "started_at", "deployment_key"], kind="stable")
        by_time = pd.merge_asof(
            rest.sort_values(["created_at", "incident_key"], kind="stable"),
            ordered[["deployment_key", "service", "finished_at"]],
            left_on="created_at",
            right_on="finished_at",
            by="service",
            direction="backward",
            allow_exact_matches=False,
            tolerance=pd.Timedelta(settings.incident_link_window),
        )
        by_time = by_time[by_time["deployment_key"].notna()]
        parts.append(by_time[["incident_key", "deployment_key"]].assign(method="time_window"))
    out = pd.concat(parts, ignore_index=True)
    return out.drop_duplicates(["incident_key", "deployment_key"]).reset_index(drop=True)


def _same_service(pairs: pd.DataFrame) -> pd.DataFrame:
    """The incident–deployment pairs allowed: an incident with a service only names its own service's."""
    return pairs[pairs["service"].isna() | (pairs["service"] == pairs["dep_service"])]


def detect_rollbacks(deployments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rollback deployments and the deployments they mark failed.

    ``deployments`` must be sorted by service, environment, ``finished_at``. Returns
    ``(rollbacks, failures)``: ``rollbacks`` has ``deployment_key, restores`` (the restored
    deployment, ``None`` for a marked rollback restoring nothing known); ``failures`` has
    ``FAILURE_COLUMNS`` with reason ``rollback``.
    """
    rb_keys: list[str] = []
    rb_restores: list[str | None] = []
    failed: list[str] = []
    methods: list[str] = []
    remediators: list[str] = []
    previous_scope: tuple[str, str] | None = None
    keys: list[str] = []
    last_by_sha: dict[str, int] = {}
    rows = deployments[["deployment_key", "service", "environment", "sha", "is_rollback"]].itertuples(index=False)
    for key, service, environment, sha, marked in rows:
        if (service, environment) != previous_scope:
            previous_scope, keys, last_by_sha = (service, environment), [], {}
        position = len(keys)
        prior_sha = last_by_sha.get(sha) if isinstance(sha, str) else None
        prev_sha_same = position > 0 and prior_sha == position - 1
        is_restore = prior_sha is not None and not prev_sha_same
        if is_restore and prior_sha is not None:
            rb_keys.append(key)
            rb_restores.append(keys[prior_sha])
            for between in keys[prior_sha + 1 :]:
                failed.append(between)
                methods.append("rollback_sha")
                remediators.append(key)
        elif not pd.isna(marked) and bool(marked):  # a null flag marks nothing (as in links)
            rb_keys.append(key)
            rb_restores.append(None)
            if position > 0 and not prev_sha_same:
                failed.append(keys[-1])
                methods.append("rollback_flag")
                remediators.append(key)
        keys.append(key)
        if isinstance(sha, str):
            last_by_sha[sha] = position
    rollbacks = pd.DataFrame({"deployment_key": rb_keys, "restores": rb_restores}, dtype=object)
    failures = pd.DataFrame(
        {
            "deployment_key": failed,
            "reason": "rollback",
            "method": methods,
            "incident_key": None,
            "remediated_by": remediators,
        },
        columns=list(FAILURE_COLUMNS),
        dtype=object,
    )
    return rollbacks, failures


def revert_failures(reverts: pd.DataFrame, shipments: pd.DataFrame, deployments: pd.DataFrame) -> pd.DataFrame:
    """Deployments failed by a later deployed revert of a change they shipped (``FAILURE_COLUMNS``).

    ``reverts``: ``revert_change_key, reverted_change_key, how``; ``shipments``: ``service,
    environment, change_key, deployment_key``, the first deployment of each service/environment
    shipping each change; ``deployments``: ``deployment_key, finished_at``.

    Definition: a deployment *d* that shipped change *X* in its environment is failed when a change
    reverting *X* is shipped by a deployment of the same service (any production environment) that
    finished strictly after *d*, unless *d*'s own service/environment got that revert at or before
    *d* (a revert shipped with the change is not a failure). It is remediated by the earliest such
    later deployment in *d*'s own environment, or, when the revert never reached that environment
    after *d*, by the earliest in another; one row per failed deployment and remediating deployment.
    """
    known = reverts[reverts["reverted_change_key"].notna()]
    when = shipments.merge(deployments[["deployment_key", "finished_at"]], on="deployment_key")
    shipped = when.rename(columns={"change_key": "reverted_change_key"})
    fixes = when.rename(
        columns={
            "change_key": "revert_change_key",
            "deployment_key": "remediated_by",
            "finished_at": "fixed_at",
            "environment": "fix_environment",
        }
    )
    pairs = known.merge(shipped, on="reverted_change_key").merge(fixes, on=["revert_change_key", "service"])
    # the revert already reached this deployment's environment, in this deployment or an earlier one
    already = pairs["fix_environment"].eq(pairs["environment"]) & (pairs["fixed_at"] <= pairs["finished_at"])
    cleared = pd.MultiIndex.from_frame(pairs.loc[already, ["deployment_key", "revert_change_key"]])
    blamed = ~pd.MultiIndex.from_frame(pairs[["deployment_key", "revert_change_key"]]).isin(cleared)
    pairs = pairs[(pairs["fixed_at"] > pairs["finished_at"]) & blamed]
    # the revert reaching the failed deployment's own environment remediates it, when it does
    pairs = pairs.assign(elsewhere=pairs["fix_environment"].ne(pairs["environment"]))
    pairs = pairs.sort_values(["elsewhere", "fixed_at", "remediated_by"], kind="stable")
    pairs = pairs.drop_duplicates(["deployment_key", "revert_change_key"]).drop_duplicates(
        ["deployment_key", "remediated_by"]
    )
    return pd.DataFrame(
        {
            "deployment_key": pairs["deployment_key"],
            "reason": "revert",
            "method": "revert_" + pairs["how"],
            "incident_key": None,
            "remediated_by": pairs["remediated_by"],
        },
        columns=list(FAILURE_COLUMNS),
    ).reset_index(drop=True)
