"""Change failure rate.

**Failed deployment**: a DORA deployment with an incident linked to it, rolled back, or with a
change reverted by a later deployment (rules in :mod:`metrics.failures`). **Change failure rate** =
failed deployments ÷ deployments, over the deployments in the window (``t = finished_at``);
``None`` when the window has no deployment.
"""

from __future__ import annotations

import pandas as pd

from metrics.windows import finish, grouped


def summarise_failures(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``failed_deployments`` per group of deployment items."""
    data, by = grouped(frame, keys)
    return finish(data.groupby(by).agg(failed_deployments=("failed", "sum")), keys)


def change_failure_rate(failed: int, deployments: int) -> float | None:
    """``failed / deployments``; ``None`` without deployments."""
    return failed / deployments if deployments else None
