"""Time to restore service.

``resolved_at − created_at`` of every resolved incident of the scope's services, caused by a change
or not; ``t = resolved_at`` (an open incident is in no window). Incidents without a service count
only in the organisation row. A negative duration is left out. Reported: ``count``, ``p50``, ``p90``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from metrics.windows import finish, grouped, quantile_columns

RESTORE_QUANTILES: tuple[float, ...] = (0.5, 0.9)


def restore_items(incidents: pd.DataFrame) -> pd.DataFrame:
    """One row per resolved incident with a non-negative duration, ``t = resolved_at``."""
    items = incidents[incidents["resolved_at"].notna() & incidents["created_at"].notna()].copy()
    items["restore_seconds"] = (items["resolved_at"] - items["created_at"]).dt.total_seconds()
    items["t"] = items["resolved_at"]
    return items[items["restore_seconds"] >= 0]


def summarise_restore(frame: pd.DataFrame, keys: list[str], qs: Sequence[float] = RESTORE_QUANTILES) -> pd.DataFrame:
    """Count and quantiles of time to restore per group."""
    data, by = grouped(frame, keys)
    counts = data.groupby(by).agg(restore_count=("incident_key", "size"))
    quantiles = quantile_columns(data["restore_seconds"], [data[k] for k in by], qs)
    quantiles.columns = [f"restore_{c}" for c in quantiles.columns]
    return finish(counts.join(quantiles), keys)
