"""Metrics over calendar buckets, the transformation curve and the largest movers.

For every bucket the metrics engine (:func:`metrics.compute_report`) runs with ``as_of`` = the
bucket's end and one window of the bucket's length, so each figure covers exactly that calendar
period. Teams and the organisation come from one run; each portfolio depth from one more run on the
inputs re-mapped by :func:`collector.pmo.portfolios.portfolio_layers` (pooled items).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from collector.pmo.buckets import Bucket
from metrics import Links, MetricInputs, MetricSettings, compute_report
from metrics.levels import BAND_METRICS

#: Trend metric → (column, True when a higher value is better).
TREND_METRICS: dict[str, tuple[str, bool]] = {
    "deployment_frequency": ("deployment_frequency_per_day", True),
    "lead_time": ("lead_time_p50_seconds", False),
    "change_failure_rate": ("change_failure_rate", False),
    "recovery_time": ("recovery_time_p50_seconds", False),
    "time_to_restore": ("time_to_restore_p50_seconds", False),
    "rework_rate": ("rework_rate", False),
}
LEVELS: tuple[str, ...] = ("elite", "high", "medium", "low")
NO_DATA = "no data"
TREND_COLUMNS: tuple[str, ...] = (
    "period", "start", "end", "window_days", "scope", "name", "deployments",
    *(column for column, _ in TREND_METRICS.values()),
    *(f"level_{metric}" for metric in BAND_METRICS),
)  # fmt: skip


def trend_row(bucket: Bucket, scope: str, name: str | None, row: dict[str, Any]) -> dict[str, Any]:
    """One trend row from one engine result row."""
    levels = row.get("levels") or {}
    return {
        "period": bucket.label,
        "start": bucket.start,
        "end": bucket.end,
        "window_days": bucket.days,
        "scope": scope,
        "name": name,
        "deployments": row["deployments"],
        "deployment_frequency_per_day": row["deployment_frequency_per_day"],
        "lead_time_p50_seconds": row["lead_time_seconds"].get("p50"),
        "change_failure_rate": row["change_failure_rate"],
        "recovery_time_p50_seconds": row["recovery_time_seconds"]["p50"],
        "time_to_restore_p50_seconds": row["time_to_restore_seconds"]["p50"],
        "rework_rate": row["rework_rate"],
        **{f"level_{metric}": levels.get(metric) for metric in BAND_METRICS},
    }


def compute_trends(
    inputs: MetricInputs,
    settings: MetricSettings,
    links: Links,
    buckets: Sequence[Bucket],
    layers: Sequence[MetricInputs] = (),
) -> pd.DataFrame:
    """One row per bucket × scope (``organisation``, ``portfolio``, ``team``) with the columns of
    :data:`TREND_COLUMNS`; ``layers`` are the portfolio input sets of each depth.

    ``links`` must be derived from ``inputs``: they do not depend on team ownership, so they are
    shared by the portfolio layers.
    """
    rows: list[dict[str, Any]] = []
    for bucket in buckets:
        for row in compute_report(inputs, settings, bucket.end, links=links, windows=[bucket.days]):
            if row["scope"] == "organisation":
                rows.append(trend_row(bucket, "organisation", None, row))
            elif row["scope"] == "team":
                rows.append(trend_row(bucket, "team", row["team"], row))
        for layer in layers:
            for row in compute_report(layer, settings, bucket.end, links=links, windows=[bucket.days]):
                if row["scope"] == "team":
                    rows.append(trend_row(bucket, "portfolio", row["team"], row))
    return pd.DataFrame(rows, columns=list(TREND_COLUMNS))


def level_counts(trends: pd.DataFrame, scope: str = "team") -> pd.DataFrame:
    """The transformation curve: ``period, metric, level, count`` — how many ``scope`` rows sit in
    each level per period and banded metric (``no data`` counted too), every combination present."""
    part = trends[trends["scope"] == scope]
    periods = list(dict.fromkeys(trends["period"]))
    rows = []
    for metric in BAND_METRICS:
        levels = part[f"level_{metric}"].fillna(NO_DATA)
        counts = levels.groupby(part["period"]).value_counts()
        for period in periods:
            for level in (*LEVELS, NO_DATA):
                rows.append(
                    {"period": period, "metric": metric, "level": level, "count": int(counts.get((period, level), 0))}
                )
    return pd.DataFrame(rows, columns=["period", "metric", "level", "count"])


def relative_change(before: float, after: float, higher_is_better: bool) -> float:
    """The change from ``before`` to ``after`` as a fraction of ``before``, positive when better.

    From zero: 0 if still zero, otherwise ±1 (a full step better or worse).
    """
    if before == 0:
        if after == 0:
            return 0.0
        return 1.0 if (after > 0) == higher_is_better else -1.0
    change = (after - before) / abs(before)
    return change if higher_is_better else -change


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def movers(
    trends: pd.DataFrame, first: str, last: str, *, scopes: Sequence[str] = ("team", "portfolio")
) -> pd.DataFrame:
    """Every (scope, name, metric) with a value in both periods ``first`` and ``last``:
    ``scope, name, metric, before, after, change`` sorted by ``change`` (best first); ``change`` is
    :func:`relative_change` (positive = improvement)."""
    columns = ["scope", "name", "metric", "before", "after", "change"]
    part = trends[trends["scope"].isin(list(scopes))]
    before = part[part["period"] == first].set_index(["scope", "name"])
    after = part[part["period"] == last].set_index(["scope", "name"])
    rows = []
    for key in before.index.intersection(after.index):
        for metric, (column, higher) in TREND_METRICS.items():
            old, new = _number(before.at[key, column]), _number(after.at[key, column])
            if old is None or new is None:
                continue
            change = relative_change(old, new, higher)
            rows.append(
                {"scope": key[0], "name": key[1], "metric": metric, "before": old, "after": new, "change": change}
            )
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["change", "scope", "name", "metric"], ascending=[False, True, True, True]).reset_index(
        drop=True
    )


def improvements_and_regressions(moves: pd.DataFrame, top: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``top`` largest improvements (change > 0, best first) and regressions (change < 0, worst first)."""
    better = moves[moves["change"] > 0].head(top)
    worse = moves[moves["change"] < 0].sort_values("change", kind="stable").head(top)
    return better.reset_index(drop=True), worse.reset_index(drop=True)
