"""Change lead time and its pull-request breakdown.

**Change lead time** = the ``finished_at`` of the deployment where the change counts − the change
start, ``t`` = that deployment's ``finished_at``. Bot changes are left out entirely (counted as
``bots``). A negative value is dropped and counted as ``excluded``. Reported: ``count``, ``p50``,
``p75``, ``p90`` (linear interpolation) of the remaining values.

Breakdown medians over the same non-bot changes, pull-request changes only, each part left out
when it is missing or negative: **coding** = first commit → PR created; **pickup** = created →
first review; **review** = first review → merged; **deploy** = merged → deployed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from metrics.links import Links
from metrics.windows import finish, grouped, quantile_columns

BREAKDOWN: tuple[tuple[str, str, str], ...] = (
    ("coding", "first_commit_at", "created_at"),
    ("pickup", "created_at", "first_review_at"),
    ("review", "first_review_at", "merged_at"),
    ("deploy", "merged_at", "deployed_at"),
)


def lead_time_items(links: Links) -> pd.DataFrame:
    """One row per (service, change) at the deployment where it counts, with its times in seconds."""
    deployed = links.deployments[["deployment_key", "finished_at"]].rename(columns={"finished_at": "deployed_at"})
    items = links.change_deployments.merge(links.changes, on="change_key").merge(deployed, on="deployment_key")
    items["t"] = items["deployed_at"]
    items["lead_time_seconds"] = (items["deployed_at"] - items["start"]).dt.total_seconds()
    items["excluded"] = ~items["is_bot"] & (items["lead_time_seconds"] < 0)
    items["counted"] = ~items["is_bot"] & (items["lead_time_seconds"] >= 0)
    for name, start, end in BREAKDOWN:
        seconds = (items[end] - items[start]).dt.total_seconds()
        usable = items["counted"] & (items["kind"] == "pull_request") & (seconds >= 0)
        items[f"{name}_seconds"] = seconds.where(usable)
    return items


def summarise_lead_time(frame: pd.DataFrame, keys: list[str], qs: Sequence[float]) -> pd.DataFrame:
    """Count, quantiles, ``excluded`` and ``bots`` of lead time, plus breakdown medians, per group."""
    data, by = grouped(frame, keys)
    counts = data.groupby(by).agg(
        lead_count=("counted", "sum"), lead_excluded=("excluded", "sum"), lead_bots=("is_bot", "sum")
    )
    counted = data[data["counted"]]
    quantiles = quantile_columns(counted["lead_time_seconds"], [counted[k] for k in by], qs)
    quantiles.columns = [f"lead_{c}" for c in quantiles.columns]
    medians = counted.groupby(by)[[f"{name}_seconds" for name, _, _ in BREAKDOWN]].median()
    medians.columns = [f"breakdown_{name}" for name, _, _ in BREAKDOWN]
    return finish(counts.join(quantiles).join(medians), keys)
