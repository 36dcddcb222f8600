"""Failed deployment recovery time.

For a failed deployment: the latest ``resolved_at`` of its linked incidents, or, when it has no
linked incident, the ``finished_at`` of the earliest rollback or revert deployment that remediated
it — minus its own ``finished_at``; ``t`` = the failed deployment's ``finished_at``. A failure with a
linked incident still open is ``unrecovered`` (counted, no duration). A negative duration is left
out and counted as ``excluded``. Reported: ``count``, ``p50``, ``p90``, ``unrecovered``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from metrics.links import Links
from metrics.windows import finish, grouped, quantile_columns

RECOVERY_QUANTILES: tuple[float, ...] = (0.5, 0.9)


def recovery_items(links: Links) -> pd.DataFrame:
    """One row per failed DORA deployment, ``t = finished_at``, with ``recovery_seconds``."""
    table = links.deployments
    items = table[table["is_deployment"] & table["failed"]].copy()
    items["t"] = items["finished_at"]
    items["recovery_excluded"] = items["recovery_seconds"] < 0
    items["recovered"] = items["recovery_seconds"] >= 0
    return items


def summarise_recovery(frame: pd.DataFrame, keys: list[str], qs: Sequence[float] = RECOVERY_QUANTILES) -> pd.DataFrame:
    """Count, quantiles, ``unrecovered`` and ``excluded`` of recovery time per group."""
    data, by = grouped(frame, keys)
    counts = data.groupby(by).agg(
        recovery_count=("recovered", "sum"),
        recovery_unrecovered=("unrecovered", "sum"),
        recovery_excluded=("recovery_excluded", "sum"),
    )
    done = data[data["recovered"]]
    quantiles = quantile_columns(done["recovery_seconds"], [done[k] for k in by], qs)
    quantiles.columns = [f"recovery_{c}" for c in quantiles.columns]
    return finish(counts.join(quantiles), keys)
