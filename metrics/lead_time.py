"""Change lead time and its pull-request breakdown.

**Change lead time** = the ``finished_at`` of the deployment where the change counts − the change
start, ``t`` = that deployment's ``finished_at``. Bot changes are left out entirely (counted as
``bots``). A negative value is dropped and counted as ``excluded``. Reported: ``count``, ``p50``,
``p75``, ``p90`` (linear interpolation) of the remaining values.

Breakdown medians over the non-bot pull-request changes, each part judged on its own: a part is
left out when one of its ends is missing or it is negative, and kept otherwise, even when the
change's total lead time is negative and excluded (clock skew on the first commit leaves pickup,
review and deploy valid). **coding** = first commit → PR created; **pickup** = created → first
review; **review** = first review → merged; **deploy** = merged → deployed.
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
    """One row per (service, change) at the deployment where it counts, with its times in seconds.

    ``counted``: a non-bot change with a non-negative lead time; ``excluded``: a non-bot change with a
    negative one. ``<part>_seconds``: a breakdown part of a non-bot pull-request change when both its
    ends are known and it is non-negative (independent of the total), else null.
    """
    deployed = links.deployments[["deployment_key", "finished_at"]].rename(columns={"finished_at": "deployed_at"})
    items = links.change_deployments.merge(links.changes, on="change_key").merge(deployed, on="deployment_key")
    items["t"] = items["deployed_at"]
    items["lead_time_seconds"] = (items["deployed_at"] - items["start"]).dt.total_seconds()
    items["excluded"] = ~items["is_bot"] & (items["lead_time_seconds"] < 0)
    items["counted"] = ~items["is_bot"] & (items["lead_time_seconds"] >= 0)
    for name, start, end in BREAKDOWN:
        seconds = (items[end] - items[start]).dt.total_seconds()
        usable = ~items["is_bot"] & (items["kind"] == "pull_request") & (seconds >= 0)
        items[f"{name}_seconds"] = seconds.where(usable)
    return items


def summarise_lead_time(frame: pd.DataFrame, keys: list[str], qs: Sequence[float]) -> pd.DataFrame:
    """Count, quantiles, ``excluded`` and ``bots`` of lead time, plus breakdown medians, per group.

    Quantiles are over the counted changes; each breakdown median is over the changes whose part is
    usable (see :func:`lead_time_items`), excluded ones included.
    """
    data, by = grouped(frame, keys)
    counts = data.groupby(by).agg(
        lead_count=("counted", "sum"), lead_excluded=("excluded", "sum"), lead_bots=("is_bot", "sum")
    )
    counted = data[data["counted"]]
    quantiles = quantile_columns(counted["lead_time_seconds"], [counted[k] for k in by], qs)
    quantiles.columns = [f"lead_{c}" for c in quantiles.columns]
    medians = data.groupby(by)[[f"{name}_seconds" for name, _, _ in BREAKDOWN]].median()
    medians.columns = [f"breakdown_{name}" for name, _, _ in BREAKDOWN]
    return finish(counts.join(quantiles).join(medians), keys)
