"""Rework rate (a proxy of DORA's survey question on unplanned deployments).

A DORA deployment is **rework** when it is a rollback (detected or marked), ships a revert, ships a
hotfix change (branch prefix, label or title pattern), or is the first deployment of its service and
environment after a failed deployment and no later than that failure's recovery. **Rework rate** =
rework deployments ÷ deployments in the window; ``None`` without deployments.
"""

from __future__ import annotations

import pandas as pd

from metrics.windows import finish, grouped

REWORK_REASONS: tuple[tuple[str, str], ...] = (
    ("is_rollback", "rollback"),
    ("ships_revert", "revert"),
    ("ships_hotfix", "hotfix"),
    ("after_failure", "first_after_failure"),
)


def summarise_rework(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``rework_deployments`` per group of deployment items."""
    data, by = grouped(frame, keys)
    return finish(data.groupby(by).agg(rework_deployments=("rework", "sum")), keys)


def rework_reasons(frame: pd.DataFrame) -> pd.Series:
    """Comma-separated rework reasons of each deployment row ('' when it is not rework)."""
    parts = [frame[column].map({True: name, False: ""}) for column, name in REWORK_REASONS]
    joined = parts[0].str.cat(pd.concat(parts[1:], axis=1), sep=",")
    return joined.str.replace(r",+", ",", regex=True).str.strip(",")


def rework_rate(rework: int, deployments: int) -> float | None:
    """``rework / deployments``; ``None`` without deployments."""
    return rework / deployments if deployments else None
