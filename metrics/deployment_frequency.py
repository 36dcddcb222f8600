"""Deployment frequency and failed attempts.

- **Deployment**: a deployment with status ``success`` to a production environment of its service;
  ``t = finished_at``.
- **Deployment frequency** = deployments in the window ÷ window length in days (0.0 when none).
- **Failed attempts**: production deployments with status ``failure``, ``error`` or ``cancelled``,
  ``t = finished_at`` (``started_at`` when it never finished); counted separately, never DORA
  deployments. ``in_progress`` deployments are not counted at all.
"""

from __future__ import annotations

import pandas as pd

from metrics.links import Links
from metrics.windows import finish, grouped

FAILED_ATTEMPT_STATUSES: tuple[str, ...] = ("failure", "error", "cancelled")


def deployment_items(links: Links) -> pd.DataFrame:
    """One row per DORA deployment with ``t = finished_at``."""
    table = links.deployments
    return table[table["is_deployment"]].assign(t=lambda f: f["finished_at"])


def failed_attempt_items(links: Links) -> pd.DataFrame:
    """One row per failed production attempt, ``t = finished_at`` or else ``started_at``."""
    table = links.deployments
    attempts = table[table["status"].isin(FAILED_ATTEMPT_STATUSES)]
    return attempts.assign(t=attempts["finished_at"].where(attempts["finished_at"].notna(), attempts["started_at"]))


def summarise_deployments(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``deployments`` (count) and ``unknown_sha_deployments`` per group."""
    data, by = grouped(frame, keys)
    result = data.groupby(by).agg(
        deployments=("deployment_key", "size"),
        unknown_sha_deployments=("unknown_shas", lambda s: int((s > 0).sum())),
    )
    return finish(result, keys)


def summarise_failed_attempts(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``failed_attempts`` (count) per group."""
    data, by = grouped(frame, keys)
    return finish(data.groupby(by).agg(failed_attempts=("deployment_key", "size")), keys)


def deployment_frequency(deployments: int, window_days: int) -> float:
    """Deployments per day over the window."""
    return deployments / window_days
