"""Scopes and rolling windows: the vectorised aggregation shared by every metric.

An item is in a window of ``d`` days when ``as_of - d days < t <= as_of``. Scopes: a service row
per service × production environment, a team row pooling the items of all its services, and one
organisation row pooling everything. Aggregation is one ``groupby`` per window and scope kind, never
a loop over scopes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import pandas as pd

Summarise = Callable[[pd.DataFrame, list[str]], pd.DataFrame]
SCOPE_KINDS: tuple[str, ...] = ("service", "team", "organisation")
_ORG = "_organisation"


def in_window(t: pd.Series, as_of: datetime, days: int) -> pd.Series:
    """``as_of - days < t <= as_of`` (null ``t`` is never in a window)."""
    end = pd.Timestamp(as_of)
    return (t > end - pd.Timedelta(days=days)) & (t <= end)


def grouped(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` and the group keys to use; the organisation (no keys) groups on a constant."""
    if keys:
        return frame, keys
    return frame.assign(**{_ORG: 0}), [_ORG]


def finish(result: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Turn a ``groupby`` result back into a flat frame with the scope keys as columns."""
    out = result.reset_index()
    return out.drop(columns=[_ORG]) if not keys and _ORG in out.columns else out


def scope_keys(kind: str, service_keys: Sequence[str]) -> list[str]:
    """The group keys of a scope kind; ``service_keys`` is ``(service, environment)`` or ``(service,)``."""
    if kind == "service":
        return list(service_keys)
    if kind == "team":
        return ["team"]
    return []


def aggregate(
    items: pd.DataFrame,
    as_of: datetime,
    windows: Sequence[int],
    summarise: Summarise,
    service_keys: Sequence[str] = ("service", "environment"),
) -> dict[str, pd.DataFrame]:
    """Per scope kind, a frame of ``summarise`` results with the scope keys and ``window_days``.

    ``items`` needs ``t``, ``team`` and the ``service_keys`` columns. ``summarise(frame, keys)`` returns
    one row per group of ``keys`` (an empty ``keys`` list means one organisation row).
    """
    out: dict[str, list[pd.DataFrame]] = {kind: [] for kind in SCOPE_KINDS}
    for days in windows:
        current = items[in_window(items["t"], as_of, days)]
        for kind in SCOPE_KINDS:
            keys = scope_keys(kind, service_keys)
            part = current.dropna(subset=keys) if keys else current
            if part.empty:
                continue
            out[kind].append(summarise(part, keys).assign(window_days=days))
    return {kind: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame() for kind, frames in out.items()}


def quantile_columns(values: pd.Series, by: pd.Series | list[pd.Series], qs: Sequence[float]) -> pd.DataFrame:
    """Linear-interpolation quantiles (pandas' default) of ``values`` per group, columns ``p50``…"""
    names = [f"p{round(q * 100)}" for q in qs]
    if values.empty:
        return pd.DataFrame(index=values.groupby(by).size().index, columns=names, dtype=float)
    table = values.groupby(by).quantile(list(qs)).unstack()  # type: ignore[arg-type]
    table.columns = names
    return table
